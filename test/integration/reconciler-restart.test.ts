// Crash safety and leader election: a reconciler killed mid-run loses nothing and runs nothing
// twice; of two replicas exactly one acts, and the other takes over when it goes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { startReconcilerProcess, stopComponent } from '../../hack/system/local-system.js';
import { createMigration, createRunningVmi, eventually, getVmi, listMigrations, startTestSystem, type TestSystem } from '../setup/system.js';
import { slotPeaks } from '../setup/slot-timeline.js';
import { recordVmis } from '../setup/vmi-recorder.js';
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

describe('SIGKILL of the leader in the middle of 20 migrations', () => {
  it('loses nothing, runs nothing twice, leaves no finalizer, and holds the limits throughout', async () => {
    const sources = new Map<string, string>();
    for (let i = 0; i < 20; i++) {
      const source = system.nodes[i % system.nodes.length] ?? '';
      sources.set(`vm-k${i}`, source);
      await createRunningVmi(system, `vm-k${i}`, { node: source, memory: '96Mi' });
    }
    const vmiHistory = await recordVmis(system);
    await Promise.all([...sources.keys()].map((vmi, i) => createMigration(system, `kill-${i}`, vmi)));
    await eventually('some to have finished and some to be running', async () => {
      const items = (await listMigrations(system)).filter((m) => m.metadata.name?.startsWith('kill-'));
      const done = items.filter((m) => m.status?.phase === 'Succeeded').length;
      return done >= 3 && items.some((m) => m.status?.phase === 'Running') ? true : undefined;
    }, 60_000, 100);
    // The replica to kill is the one the Lease names, whatever earlier tests left running.
    const holder = await leaseHolder();
    const leader = system.state.processes.find((p) => p.name === holder);
    if (!leader) throw new Error(`no process for the Lease holder ${holder}`);
    await stopComponent(leader, 'SIGKILL');
    system.state.processes = system.state.processes.filter((p) => p !== leader);
    // Nobody writes now (the other replica, if any, waits for the Lease to expire): what the API
    // holds is what the killed leader left in flight.
    const atKill = (await listMigrations(system)).filter((m) => m.metadata.name?.startsWith('kill-') && m.status?.phase !== 'Succeeded' && m.status?.phase !== 'Failed');
    const runningAtKill = atKill.filter((m) => m.status?.phase === 'Running').map((m) => m.metadata.name ?? '');
    console.log(`killed ${holder}; in flight at the kill: ${atKill.map((m) => `${m.metadata.name} (${m.status?.phase ?? 'new'})`).join(', ')}`);
    expect(runningAtKill.length).toBeGreaterThan(0);
    await startReconcilerProcess(system.state, 7);

    const all = await eventually('all 20 to end', async () => {
      const items = (await listMigrations(system)).filter((m) => m.metadata.name?.startsWith('kill-'));
      return items.length === 20 && items.every((m) => m.status?.phase === 'Succeeded' || m.status?.phase === 'Failed') && items.every((m) => !(m.metadata.finalizers ?? []).length) ? items : undefined;
    }, 180_000, 500);
    for (const m of all) await expectVmiAgrees(system, m);
    expect(all.filter((m) => m.status?.phase !== 'Succeeded').map((m) => `${m.metadata.name}: ${m.status?.migrationState?.failureReason}`)).toEqual([]);
    // Slots held at once, from the Scheduled and final timestamps both leaders wrote.
    const peaks = slotPeaks(all);
    expect(peaks.counted).toBe(20);
    expect(peaks.cluster).toBe(3);
    expect(peaks.outbound).toBe(1);
    expect(peaks.inbound).toBe(1);
    for (const m of all) {
      const runs = (m.status?.phaseTransitionTimestamps ?? []).filter((p) => p.phase === 'Running');
      expect(runs).toHaveLength(1);
      const vmi = await getVmi(system, m.spec.vmiName);
      expect(vmi.status?.nodeName).toBe(m.status?.migrationState?.targetNode);
      expect(vmi.status?.nodeName).not.toBe(sources.get(m.spec.vmiName));
      expect(vmi.status?.migrationState?.migrationUid).toBe(m.metadata.uid);
      // Moved exactly once, source to target: a migration started twice would show a second move.
      expect(vmiHistory.nodesOf(m.spec.vmiName)).toEqual([sources.get(m.spec.vmiName), m.status?.migrationState?.targetNode]);
    }
    vmiHistory.stop();
  });
});
