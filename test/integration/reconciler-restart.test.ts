// Crash safety and leader election: a reconciler killed mid-run loses nothing and runs nothing
// twice; of two replicas exactly one acts, and the other takes over when it goes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { startReconcilerProcess, stopComponent } from '../../hack/system/local-system.js';
import { createMigration, createRunningVmi, eventually, getVmi, listMigrations, startTestSystem, watchLimits, type TestSystem } from '../setup/system.js';
import { expectVmiAgrees } from '../setup/order-of-truth.js';

let system: TestSystem;

beforeAll(async () => {
  system = await startTestSystem('rec-restart', {
    nodes: 6,
    reconcilers: 2,
    migrations: 'bandwidthPerMigration: 32Mi\nparallelMigrationsPerCluster: 3\nparallelOutboundMigrationsPerNode: 1\nparallelInboundMigrationsPerNode: 1',
  });
}, 180_000);

afterAll(async () => {
  await system?.stop();
});

async function leaseHolder(): Promise<string | undefined> {
  const api = system.kubeConfig.makeApiClient(CoordinationV1Api);
  const lease = await api.readNamespacedLease({ name: 'live-migration-reconciler', namespace: system.ns }).catch(() => undefined);
  return lease?.spec?.holderIdentity || undefined;
}

async function writesOf(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('live_migration_reconciler_api_writes_total'))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

async function agentCompleted(): Promise<number> {
  const agent = system.state.processes.find((p) => p.name === 'agent');
  const text = await (await fetch(`http://127.0.0.1:${agent?.port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('live_migration_agent_migrations{') && line.includes('state="Completed"'))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

describe('two replicas', () => {
  it('elect one leader; only the leader writes', async () => {
    const holder = await eventually('a leader', leaseHolder, 20_000);
    expect(['reconciler-0', 'reconciler-1']).toContain(holder);
    await createRunningVmi(system, 'vm-lead', { node: system.nodes[0] ?? '' });
    await createMigration(system, 'lead', 'vm-lead');
    await eventually('lead to succeed', async () => ((await listMigrations(system)).find((m) => m.metadata.name === 'lead')?.status?.phase === 'Succeeded' ? true : undefined));
    const [r0, r1] = system.state.processes.filter((p) => p.name.startsWith('reconciler'));
    const writes = { 'reconciler-0': await writesOf(r0?.port ?? 0), 'reconciler-1': await writesOf(r1?.port ?? 0) };
    const follower = holder === 'reconciler-0' ? 'reconciler-1' : 'reconciler-0';
    expect(writes[holder as 'reconciler-0']).toBeGreaterThan(0);
    expect(writes[follower]).toBe(0);
  });

  it('hand over when the leader stops: the other replica carries on', async () => {
    const holder = await leaseHolder();
    const leader = system.state.processes.find((p) => p.name === holder);
    if (!leader) throw new Error(`no process for leader ${holder}`);
    await stopComponent(leader, 'SIGTERM');
    system.state.processes = system.state.processes.filter((p) => p !== leader);
    const next = await eventually('a new leader', async () => {
      const h = await leaseHolder();
      return h && h !== holder ? h : undefined;
    }, 20_000);
    expect(next).not.toBe(holder);
    await createRunningVmi(system, 'vm-after', { node: system.nodes[1] ?? '' });
    await createMigration(system, 'after', 'vm-after');
    await eventually('after to succeed', async () => ((await listMigrations(system)).find((m) => m.metadata.name === 'after')?.status?.phase === 'Succeeded' ? true : undefined));
  });
});

describe('SIGKILL in the middle of 20 migrations', () => {
  it('loses nothing, runs nothing twice, leaves no finalizer, and holds the limits throughout', async () => {
    const completedBefore = await agentCompleted();
    const sources = new Map<string, string>();
    for (let i = 0; i < 20; i++) {
      const source = system.nodes[i % system.nodes.length] ?? '';
      sources.set(`vm-k${i}`, source);
      await createRunningVmi(system, `vm-k${i}`, { node: source, memory: '96Mi' });
    }
    const limits = watchLimits(system);
    await Promise.all([...sources.keys()].map((vmi, i) => createMigration(system, `kill-${i}`, vmi)));
    // Kill while some run and others wait.
    await eventually('some to be running', async () => {
      const items = await listMigrations(system);
      return items.filter((m) => m.metadata.name?.startsWith('kill-') && m.status?.phase === 'Succeeded').length >= 3 ? true : undefined;
    }, 60_000, 100);
    const survivor = system.state.processes.find((p) => p.name.startsWith('reconciler'));
    if (!survivor) throw new Error('no reconciler running');
    await stopComponent(survivor, 'SIGKILL');
    system.state.processes = system.state.processes.filter((p) => p !== survivor);
    await sleep(1000);
    await startReconcilerProcess(system.state, 7);

    const all = await eventually('all 20 to end', async () => {
      const items = (await listMigrations(system)).filter((m) => m.metadata.name?.startsWith('kill-'));
      return items.length === 20 && items.every((m) => m.status?.phase === 'Succeeded' || m.status?.phase === 'Failed') && items.every((m) => !(m.metadata.finalizers ?? []).length) ? items : undefined;
    }, 180_000, 500);
    for (const m of all) await expectVmiAgrees(system, m);
    const max = await limits.stop();
    expect(max.cluster).toBeLessThanOrEqual(3);
    expect(max.outbound).toBeLessThanOrEqual(1);
    expect(max.inbound).toBeLessThanOrEqual(1);
    expect(all.filter((m) => m.status?.phase !== 'Succeeded').map((m) => `${m.metadata.name}: ${m.status?.migrationState?.failureReason}`)).toEqual([]);
    for (const m of all) {
      const runs = (m.status?.phaseTransitionTimestamps ?? []).filter((p) => p.phase === 'Running');
      expect(runs).toHaveLength(1);
      const vmi = await getVmi(system, m.spec.vmiName);
      expect(vmi.status?.nodeName).toBe(m.status?.migrationState?.targetNode);
      expect(vmi.status?.nodeName).not.toBe(sources.get(m.spec.vmiName));
      expect(vmi.status?.migrationState?.migrationUid).toBe(m.metadata.uid);
    }
    // The agents moved exactly 20 guests: no migration was started twice.
    expect((await agentCompleted()) - completedBefore).toBe(20);
  });
});
