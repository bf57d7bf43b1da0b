// Node drain, the order of things (issue 13): with a slot held, system-critical evacuations start
// before user-triggered migrations created earlier (KubeVirt's priority-queue test); a VMI whose
// evacuations fail gets its next ones at growing intervals (KubeVirt's backoff), not a storm; with
// evacuation on cordon, uncordoning calls the drain off as removing the taint does.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { isEvacuation, isFinal, reached, setCordon, taintForDrain, vmiEvents } from '../setup/drain.js';
import { createMigration, createRunningVmi, deleteMigration, eventually, getMigration, getVmi, listMigrations, startTestSystem, waitEvaluated, type TestSystem } from '../setup/system.js';
import { recordMigrations } from '../setup/vmim-recorder.js';

const BACKOFF_BASE_MS = 2000;
let system: TestSystem;
const node = (i: number) => system.nodes[i] ?? '';

beforeAll(async () => {
  system = await startTestSystem('drain-order', {
    nodes: 5,
    nodeLabels: (i): Record<string, string> => (i === 4 ? { pool: 'solo' } : {}),
    webhook: true,
    migrations: 'bandwidthPerMigration: 32Mi\nparallelMigrationsPerCluster: 1\nunschedulableTimeout: 1',
    configData: { evictionStrategy: 'LiveMigrate' },
    // The operator setting: a cordon alone drains a node.
    env: { EVACUATION_BACKOFF_BASE_MS: String(BACKOFF_BASE_MS), EVACUATE_ON_CORDON: 'true' },
  });
}, 180_000);

afterAll(async () => {
  await system?.stop();
});

/** user-triggered is reserved to the system: created here with the reconciler's own account, as KubeVirt's workload updater would. */
async function createAsSystem(name: string, vmiName: string, priority: string): Promise<void> {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(system.state.reconcilerIdentity?.kubeconfig ?? '');
  await kubeConfig.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: 'kubevirt.io',
    version: 'v1',
    namespace: system.ns,
    plural: 'virtualmachineinstancemigrations',
    body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name }, spec: { vmiName, priority } },
  });
}

describe('priority when a slot frees', () => {
  it('starts system-critical evacuations before user-triggered migrations created earlier', async () => {
    // 1 GiB at 32 MiB/s: holds the only slot until it is cancelled.
    await createRunningVmi(system, 'vm-holder', { node: node(0), memory: '1Gi' });
    for (const name of ['vm-u1', 'vm-u2']) await createRunningVmi(system, name, { node: node(1), memory: '32Mi' });
    for (const name of ['vm-e1', 'vm-e2']) await createRunningVmi(system, name, { node: node(2), memory: '32Mi' });
    for (const name of ['vm-holder', 'vm-u1', 'vm-u2', 'vm-e1', 'vm-e2']) await waitEvaluated(system, name);
    await createMigration(system, 'holder', 'vm-holder');
    await eventually('the holder to take the slot', async () => ((await getMigration(system, 'holder'))?.status?.phase === 'Running' ? true : undefined), 30_000, 100);
    await createAsSystem('user-1', 'vm-u1', 'user-triggered');
    await createAsSystem('user-2', 'vm-u2', 'user-triggered');
    await eventually('user-triggered migrations waiting at the cluster limit', async () => {
      const both = await Promise.all([getMigration(system, 'user-1'), getMigration(system, 'user-2')]);
      return both.every((m) => m?.status?.conditions?.some((c) => c.type === 'Admitted' && c.reason === 'ClusterLimit')) ? true : undefined;
    }, 30_000, 100);

    await taintForDrain(system, node(2));
    await eventually('both evacuations waiting too', async () => {
      const evacuations = (await listMigrations(system)).filter((m) => isEvacuation(m, node(2)));
      return evacuations.length === 2 && evacuations.every((m) => m.status?.phase === 'Scheduling') ? true : undefined;
    }, 30_000, 100);
    await deleteMigration(system, 'holder');

    const done = await eventually('the four to succeed', async () => {
      const all = (await listMigrations(system)).filter((m) => m.metadata.name?.startsWith('user-') || isEvacuation(m, node(2)));
      return all.length === 4 && all.every(isFinal) ? all : undefined;
    }, 60_000, 250);
    expect(done.map((m) => m.status?.phase)).toEqual(['Succeeded', 'Succeeded', 'Succeeded', 'Succeeded']);
    const users = done.filter((m) => m.metadata.name?.startsWith('user-'));
    const evacuations = done.filter((m) => isEvacuation(m));
    // The premise: the user-triggered ones were created first.
    expect(Math.max(...users.map((m) => reached(m, 'Pending')))).toBeLessThan(Math.min(...evacuations.map((m) => reached(m, 'Pending'))));
    // Both evacuations took the slot before either user-triggered migration.
    expect(Math.max(...evacuations.map((m) => reached(m, 'Scheduled')))).toBeLessThan(Math.min(...users.map((m) => reached(m, 'Scheduled'))));
  }, 120_000);
});

describe('evacuation on cordon (reconciler --evacuate-on-cordon=true)', () => {
  it('evacuates the VMIs of a node that is only cordoned', async () => {
    await createRunningVmi(system, 'vm-cordoned', { node: node(3), memory: '32Mi' });
    await waitEvaluated(system, 'vm-cordoned');
    await setCordon(system, node(3), true);
    const done = await eventually('its evacuation to succeed', async () => {
      const mine = (await listMigrations(system)).filter((m) => isEvacuation(m, node(3)) && m.spec.vmiName === 'vm-cordoned');
      return mine.length === 1 && mine[0]?.status?.phase === 'Succeeded' ? mine[0] : undefined;
    }, 60_000, 250);
    expect(done.status?.migrationState?.targetNode).not.toBe(node(3));
    await setCordon(system, node(3), false);
  }, 90_000);

  it('uncordoning calls it off: marks cleared, queued evacuations deleted, none new for 10 s, the running one finishes', async () => {
    const source = node(3);
    const names = ['vm-k0', 'vm-k1', 'vm-k2', 'vm-k3'];
    // 160 MiB at 32 MiB/s: 5 s each under a cluster limit of 1, so the others are queued at uncordon.
    for (const name of names) await createRunningVmi(system, name, { node: source, memory: '160Mi' });
    for (const name of names) await waitEvaluated(system, name);
    const recorder = await recordMigrations(system);
    try {
      await setCordon(system, source, true);
      await eventually('one evacuation running, the others queued, every VMI marked', async () => {
        const mine = (await listMigrations(system)).filter((m) => isEvacuation(m, source) && names.includes(m.spec.vmiName));
        const vmis = await Promise.all(names.map((name) => getVmi(system, name)));
        const running = mine.filter((m) => m.status?.phase === 'Running').length;
        const queued = mine.filter((m) => m.status?.phase === 'Scheduling').length;
        return running === 1 && queued === names.length - 1 && vmis.every((v) => v.status?.evacuationNodeName === source) ? true : undefined;
      }, 30_000, 100);
      await setCordon(system, source, false);
      await eventually('evacuationNodeName cleared on every VMI', async () => {
        const vmis = await Promise.all(names.map((name) => getVmi(system, name)));
        return vmis.every((v) => v.status?.evacuationNodeName === undefined) ? true : undefined;
      }, 20_000, 100);
      const known = new Set(recorder.firstSeen().map((s) => s.name));
      const offAt = Date.now();
      // Observe 10 s: no migration may appear in this window.
      await sleep(10_000);
      expect(recorder.firstSeen().filter((s) => !known.has(s.name)).map((s) => `${s.name} at +${s.atMs - offAt} ms`)).toEqual([]);

      const evacuations = recorder.firstSeen().filter((s) => isEvacuation(s.first, source) && names.includes(s.first.spec.vmiName));
      expect(evacuations).toHaveLength(names.length);
      const outcomes = await Promise.all(evacuations.map(async ({ name, first }) => {
        const started = recorder.versions(name).some((v) => v.status?.phaseTransitionTimestamps?.some((p) => p.phase === 'Scheduled'));
        const last = started ? await eventually(`${name} final`, async () => recorder.versions(name).find(isFinal), 30_000, 100) : await recorder.finalBeforeGone(name, 30_000);
        return { vmi: first.spec.vmiName, started, phase: last.status?.phase, abort: last.status?.migrationState?.abortStatus };
      }));
      const started = outcomes.filter((o) => o.started);
      const cancelled = outcomes.filter((o) => !o.started);
      expect(started.length).toBeGreaterThanOrEqual(1);
      expect(started.map((o) => o.phase)).toEqual(started.map(() => 'Succeeded'));
      expect(cancelled.length).toBeGreaterThanOrEqual(1);
      expect(cancelled.map((o) => [o.phase, o.abort])).toEqual(cancelled.map(() => ['Failed', 'Succeeded']));
      for (const { vmi } of cancelled) expect((await getVmi(system, vmi)).status?.nodeName).toBe(source);
      for (const { vmi } of started) expect((await getVmi(system, vmi)).status?.nodeName).not.toBe(source);
    } finally {
      recorder.stop();
    }
  }, 120_000);
});

describe('backoff of a failing evacuation', () => {
  it('creates the next evacuation only after 1, 2, 4 × the base since the last failure, with an event each time', async () => {
    // Only node 5 has pool=solo: drained, no node may receive the VMI, so every evacuation fails.
    await createRunningVmi(system, 'vm-solo', { node: node(4), memory: '32Mi', nodeSelector: { pool: 'solo' } });
    await waitEvaluated(system, 'vm-solo');
    await taintForDrain(system, node(4));
    const tries = await eventually('four failed evacuations', async () => {
      const mine = (await listMigrations(system)).filter((m) => isEvacuation(m, node(4)));
      return mine.length >= 4 && mine.slice(0, 4).every(isFinal) ? mine : undefined;
    }, 90_000, 250);
    const ordered = [...tries].sort((a, b) => reached(a, 'Pending') - reached(b, 'Pending'));
    for (const m of ordered.slice(0, 4)) {
      expect(m.status?.phase).toBe('Failed');
      expect(m.status?.migrationState?.failureReason).toMatch(/Unschedulable/);
    }
    // Each next one is created no sooner than base × 2^(k-1) after the k-th failure.
    for (let k = 1; k < 4; k++) {
      const previous = ordered[k - 1];
      const next = ordered[k];
      if (!previous || !next) throw new Error('missing evacuation');
      expect(reached(next, 'Pending') - reached(previous, 'Failed')).toBeGreaterThanOrEqual(BACKOFF_BASE_MS * 2 ** (k - 1));
    }
    const backoffs = (await vmiEvents(system, 'vm-solo')).filter((e) => e.reason === 'MigrationBackoff');
    expect(backoffs.length).toBeGreaterThanOrEqual(3);
    expect(backoffs[0]?.message).toContain(`backoff migrating vmi ${system.ns}/vm-solo`);
  }, 120_000);
});
