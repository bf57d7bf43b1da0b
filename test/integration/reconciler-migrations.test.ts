// Migrations end to end on simulated nodes: phases, migrationState, progress, limits.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createMigration,
  createRunningVmi,
  eventually,
  getMigration,
  getVmi,
  listMigrations,
  setMigrationsConfig,
  startTestSystem,
  waitEvaluated,
  type TestSystem,
} from '../setup/system.js';
import { slotPeaks } from '../setup/slot-timeline.js';
import { expectVmiAgrees } from '../setup/order-of-truth.js';

let system: TestSystem;

beforeAll(async () => {
  system = await startTestSystem('rec-mig', {
    nodes: 10,
    // Migrations go through admission as users' do: stamped configuration, label, finalizer.
    webhook: true,
    migrations: 'bandwidthPerMigration: 32Mi\nparallelMigrationsPerCluster: 5\nparallelOutboundMigrationsPerNode: 2\nparallelInboundMigrationsPerNode: 2',
  });
}, 180_000);

afterAll(async () => {
  await system?.stop();
});

describe('a migration on simulated nodes', () => {
  it('moves the VMI to its target with a complete migrationState and live progress', async () => {
    const [source] = system.nodes;
    await createRunningVmi(system, 'vm-progress', { node: source ?? '', memory: '160Mi' });
    await waitEvaluated(system, 'vm-progress');
    await createMigration(system, 'mig-progress', 'vm-progress');
    const percents = new Set<number>();
    const done = await eventually(
      'migration to finish',
      async () => {
        const vmim = await getMigration(system, 'mig-progress');
        const percent = vmim?.status?.progress?.percent;
        if (percent !== undefined) percents.add(percent);
        return vmim?.status?.phase === 'Succeeded' || vmim?.status?.phase === 'Failed' ? vmim : undefined;
      },
      60_000,
      250,
    );
    await expectVmiAgrees(system, done);
    expect(done.status?.phase).toBe('Succeeded');
    // Admitted by the webhook: labelled and stamped with the configuration in force.
    expect(done.metadata.labels?.['kubevirt.io/vmi-name']).toBe('vm-progress');
    expect(done.spec.migrationConfiguration).toMatchObject({ bandwidthPerMigration: '32Mi', progressTimeout: 150 });
    // 160 MiB at 32 MiB/s take ~5 s; progress is published every 2 s.
    expect(percents.size).toBeGreaterThanOrEqual(3);
    expect(done.status?.phaseTransitionTimestamps?.map((p) => p.phase)).toEqual([
      'Pending', 'Scheduling', 'Scheduled', 'PreparingTarget', 'TargetReady', 'Running', 'Succeeded',
    ]);
    // The finalizer comes off once the migration is final (a write of its own, just after).
    await eventually('finalizer removed', async () => {
      const vmim = await getMigration(system, 'mig-progress');
      return vmim && !(vmim.metadata.finalizers ?? []).includes('kubevirt.io/migrationJobFinalize') ? true : undefined;
    }, 10_000);

    const vmi = await getVmi(system, 'vm-progress');
    const state = vmi.status?.migrationState;
    expect(vmi.status?.nodeName).toBe(state?.targetNode);
    expect(state).toMatchObject({
      migrationUid: done.metadata.uid,
      sourceNode: source,
      completed: true,
      failed: false,
      targetNodeDomainDetected: true,
      migrationConfiguration: { bandwidthPerMigration: '32Mi', completionTimeoutPerGiB: 800, progressTimeout: 150 },
    });
    expect(state?.targetNode).not.toBe(source);
    expect(state?.targetNodeAddress).toBe('127.0.0.1');
    expect(Object.keys(state?.targetDirectMigrationNodePorts ?? {}).length).toBeGreaterThan(0);
    expect(state?.targetPod).toBeTruthy();
    expect(Date.parse(state?.endTimestamp ?? '')).toBeGreaterThan(Date.parse(state?.startTimestamp ?? ''));
    // KubeVirt's targetNodeDomainReadyTimestamp: the target confirmed the guest runs there, after the
    // start and no later than the end; the VMI and the VMIM say the same.
    expect(state?.targetNodeDomainReadyTimestamp).toBe(done.status?.migrationState?.targetNodeDomainReadyTimestamp);
    const ready = Date.parse(state?.targetNodeDomainReadyTimestamp ?? '');
    expect(ready).toBeGreaterThan(Date.parse(state?.startTimestamp ?? ''));
    expect(ready).toBeLessThanOrEqual(Date.parse(state?.endTimestamp ?? ''));
  });
});

describe('50 migrations over 10 nodes', () => {
  it('never exceed the cluster, outbound or inbound limits, and all succeed', async () => {
    const vmis: Array<{ vmi: string; source: string }> = [];
    for (let i = 0; i < 50; i++) {
      const source = system.nodes[i % 10] ?? '';
      vmis.push({ vmi: `vm-${i}`, source });
      await createRunningVmi(system, `vm-${i}`, { node: source, memory: '48Mi' });
    }
    for (const { vmi } of vmis) await waitEvaluated(system, vmi);
    await Promise.all(vmis.map(({ vmi }, i) => createMigration(system, `burst-${i}`, vmi)));
    const all = await eventually(
      'all 50 to finish',
      async () => {
        const items = (await listMigrations(system)).filter((m) => m.metadata.name?.startsWith('burst-'));
        return items.length === 50 && items.every((m) => m.status?.phase === 'Succeeded' || m.status?.phase === 'Failed') ? items : undefined;
      },
      240_000,
      500,
    );
    for (const m of all) await expectVmiAgrees(system, m);
    // Slots held at once, from the Scheduled and final timestamps the reconciler wrote.
    const peaks = slotPeaks(all);
    expect(peaks.counted).toBe(50);
    expect(peaks.outbound).toBeLessThanOrEqual(2);
    expect(peaks.inbound).toBeLessThanOrEqual(2);
    // The cluster limit was reached (so the check can fail) and never passed.
    expect(peaks.cluster).toBe(5);
    expect(all.filter((m) => m.status?.phase !== 'Succeeded').map((m) => `${m.metadata.name}: ${m.status?.migrationState?.failureReason}`)).toEqual([]);
    for (const { vmi, source } of vmis) {
      const read = await getVmi(system, vmi);
      expect(read.status?.migrationState?.completed).toBe(true);
      expect(read.status?.nodeName).toBe(read.status?.migrationState?.targetNode);
      expect(read.status?.nodeName).not.toBe(source);
    }
  });

  it('honours a lowered parallelMigrationsPerCluster without a restart', async () => {
    // Resolves once the webhook and the reconciler decide under the new limit.
    await setMigrationsConfig(system, 'bandwidthPerMigration: 32Mi\nparallelMigrationsPerCluster: 2\nparallelOutboundMigrationsPerNode: 2');
    for (let i = 0; i < 10; i++) {
      const source = system.nodes[i] ?? '';
      await createRunningVmi(system, `vm-low-${i}`, { node: source, memory: '48Mi' });
      await waitEvaluated(system, `vm-low-${i}`);
      await createMigration(system, `low-${i}`, `vm-low-${i}`);
    }
    const low = await eventually('all 10 to finish', async () => {
      const items = (await listMigrations(system)).filter((m) => m.metadata.name?.startsWith('low-'));
      return items.length === 10 && items.every((m) => m.status?.phase === 'Succeeded') ? items : undefined;
    }, 120_000, 500);
    for (const m of low) await expectVmiAgrees(system, m);
    expect(slotPeaks(low).cluster).toBe(2);
  });
});
