import { afterEach, describe, expect, it } from '@jest/globals';
import type { ProgressSample } from '../../../agent/contract.js';
import { AGENT_RESPONSIVE_CONDITION } from './clocks.js';
import { SCHEDULER_KEY } from './status-writer.js';
import { KEY, unreachable, VMI, VMIM, World } from './testing-fakes.js';

const sample = (remaining: number, sampledAt: string): ProgressSample => ({
  dataProcessedBytes: 2 ** 30 - remaining,
  dataRemainingBytes: remaining,
  dataTotalBytes: 2 ** 30,
  bandwidthBytesPerSecond: 64 * 2 ** 20,
  dirtyRateBytesPerSecond: 0,
  iteration: 1,
  etaSeconds: 5,
  expectedDowntimeMs: 30,
  sampledAt,
});

let world: World;
afterEach(() => expect(world.agents.unexpected).toEqual([]));

describe('dispatch through MigrationController.reconcile', () => {
  it('walks a migration from creation to Succeeded, the VMI written first at every hand-off', async () => {
    world = new World();
    world.addVmi('vmi');
    world.addVmim('mig', 'vmi');
    world.agents
      .script('node-b', 'prepareTarget', { targetNodeAddress: '10.0.0.2', targetDirectMigrationNodePorts: { '49152': 0 }, targetPod: 'agent-node-b' })
      .script('node-a', 'startMigration', undefined)
      .script('node-a', 'migrationStatus', (uid) => ({ migrationUid: uid, state: 'Running', progress: sample(2 ** 29, world.clock.iso()) }), { migrationUid: 'uid-mig', state: 'Completed' })
      .script('node-b', 'confirmArrival', { domainDetected: true });
    const controller = world.controller();

    await controller.reconcile(KEY); // Pending + Scheduling
    await controller.reconcile(SCHEDULER_KEY); // Scheduled + PreparingTarget on node-b
    await controller.reconcile(KEY); // TargetReady
    expect(await controller.reconcile(KEY)).toEqual({ requeueAfterMs: 1000 }); // Running
    world.clock.advance(1000);
    await controller.reconcile(KEY); // progress published
    expect(world.vmim('mig')?.status?.progress).toMatchObject({ percent: 50, dataRemainingBytes: 2 ** 29, lowestDataRemainingBytes: 2 ** 29 });
    world.clock.advance(1000);
    await controller.reconcile(KEY); // source Completed, target confirms → Succeeded

    expect(world.client.objectWrites()).toEqual([
      `patchStatus ${VMIM}`, // Pending, Scheduling
      `patchStatus ${VMIM}`, // Scheduled, PreparingTarget
      `patchStatus ${VMI}`, // TargetReady
      `patchStatus ${VMIM}`,
      `patchStatus ${VMI}`, // Running
      `patchStatus ${VMIM}`,
      `patchStatus ${VMIM}`, // progress
      `patchStatus ${VMI}`, // Succeeded
      `patchStatus ${VMIM}`,
    ]);
    const status = world.vmim('mig')?.status;
    expect(status?.phase).toBe('Succeeded');
    expect(status?.migrationState).toMatchObject({
      sourceNode: 'node-a', targetNode: 'node-b', completed: true, failed: false, targetNodeDomainDetected: true,
      targetNodeDomainReadyTimestamp: world.clock.iso(),
    });
    expect(status?.progress).toMatchObject({ percent: 100, dataRemainingBytes: 0 });
    expect(world.vmi('vmi')?.status).toMatchObject({
      nodeName: 'node-b', migrationState: { migrationUid: 'uid-mig', completed: true, targetNodeDomainReadyTimestamp: world.clock.iso() },
    });
    expect(world.agents.calls.find((c) => c.method === 'startMigration')?.arg).toMatchObject({
      migrationUid: 'uid-mig',
      destination: { nodeName: 'node-b', address: '10.0.0.2' },
      bandwidthBytesPerSecond: 64 * 2 ** 20,
      maxDowntimeMs: 900, // KubeVirt's default, from the cluster configuration
    });
  });

  it('hands the stamped maxDowntimeMs to the source agent with the start', async () => {
    world = new World();
    world.addVmi('vmi');
    world.addVmim('mig', 'vmi', 'TargetReady', { at: world.clock.iso(), migrationConfiguration: { maxDowntimeMs: 250 } });
    world.agents.script('node-a', 'startMigration', undefined);
    await world.controller().reconcile(KEY);
    expect(world.vmim('mig')?.status?.phase).toBe('Running');
    expect(world.agents.calls.find((c) => c.method === 'startMigration')?.arg).toMatchObject({ maxDowntimeMs: 250 });
  });

  it('starts encrypted unless kubevirt-config says disableTLS; an unencrypted start gets a Warning event on the VMIM', async () => {
    world = new World();
    world.addVmi('vmi');
    world.addVmim('mig', 'vmi', 'TargetReady', { at: world.clock.iso() });
    world.agents.script('node-a', 'startMigration', undefined);
    await world.controller().reconcile(KEY);
    expect(world.agents.calls.find((c) => c.method === 'startMigration')?.arg).not.toHaveProperty('disableTLS');
    expect(world.client.events()).not.toContain('VirtualMachineInstanceMigration/mig MigrationNotEncrypted');

    world = new World({ disableTLS: true });
    world.addVmi('vmi');
    world.addVmim('mig', 'vmi', 'TargetReady', { at: world.clock.iso() });
    world.agents.script('node-a', 'startMigration', undefined);
    await world.controller().reconcile(KEY);
    expect(world.vmim('mig')?.status?.phase).toBe('Running');
    expect(world.agents.calls.find((c) => c.method === 'startMigration')?.arg).toMatchObject({ disableTLS: true });
    expect(world.client.events()).toContain('VirtualMachineInstanceMigration/mig MigrationNotEncrypted');
  });

  it('a start whose answer was lost is retried within targetReadyTimeout, then the source is told to abort', async () => {
    world = new World();
    world.addVmi('vmi');
    world.addVmim('mig', 'vmi', 'TargetReady', { at: world.clock.iso(), migrationConfiguration: { targetReadyTimeout: 30 } });
    world.agents.script('node-a', 'startMigration', unreachable('node-a')).script('node-a', 'abortMigration', { result: 'aborted' });
    const controller = world.controller();

    expect(await controller.reconcile(KEY)).toEqual({ requeueAfterMs: 1000 });
    expect(world.vmim('mig')?.status?.conditions?.find((c) => c.type === AGENT_RESPONSIVE_CONDITION)).toMatchObject({ status: 'False', lastTransitionTime: world.clock.iso() });
    world.clock.advance(29_999);
    await controller.reconcile(KEY);
    expect(world.vmim('mig')?.status?.phase).toBe('TargetReady');
    expect(world.agents.called('node-a', 'abortMigration')).toBe(0);

    world.clock.advance(1);
    await controller.reconcile(KEY);
    expect(world.agents.calls.map((c) => `${c.node}.${c.method}`).slice(-3)).toEqual(['node-a.startMigration', 'node-a.abortMigration', 'node-b.releaseTarget']);
    expect(world.vmim('mig')?.status?.migrationState?.failureReason).toMatch(/^AgentUnreachable: source agent did not start the migration within 30s/);
  });

  it.each([
    ['the same controller', false],
    ['a restarted controller', true],
  ])('an agent silent while Running for targetReadyTimeout fails the migration (%s, no extra wait)', async (_name, restart) => {
    world = new World();
    world.addVmi('vmi');
    world.addVmim('mig', 'vmi', 'Running', { at: world.clock.iso(), migrationConfiguration: { targetReadyTimeout: 30 } });
    world.agents.script('node-a', 'migrationStatus', unreachable('node-a'));
    const first = world.controller();
    world.clock.advance(2000);
    const silentSince = world.clock.iso();
    await first.reconcile(KEY);
    world.clock.advance(29_999);
    await first.reconcile(KEY);
    expect(world.vmim('mig')?.status?.phase).toBe('Running');

    world.clock.advance(1);
    await (restart ? world.controller() : first).reconcile(KEY);
    const status = world.vmim('mig')?.status;
    expect(status?.phase).toBe('Failed');
    expect(status?.migrationState?.failureReason).toMatch(/^AgentUnreachable: agent on node-a did not answer for 30s; the outcome on the node is unknown/);
    expect(status?.conditions?.find((c) => c.type === AGENT_RESPONSIVE_CONDITION)?.lastTransitionTime).toBe(silentSince);
    expect(world.vmi('vmi')?.status?.migrationState).toMatchObject({ failed: true, completed: true });
  });

  it('a restarted controller keeps the progress window: no progress for progressTimeout aborts on the source', async () => {
    world = new World();
    world.addVmi('vmi');
    world.addVmim('mig', 'vmi', 'Running', { at: world.clock.iso(), migrationConfiguration: { progressTimeout: 5 } });
    world.agents
      .script('node-a', 'migrationStatus', (uid) => ({ migrationUid: uid, state: 'Running', progress: sample(1000, world.clock.iso()) }))
      .script('node-a', 'abortMigration', { result: 'aborted' });
    await world.controller().reconcile(KEY); // publishes the mark, now
    expect(world.vmim('mig')?.status?.progress?.lastProgressAt).toBe(world.clock.iso());
    for (let i = 0; i < 5; i++) {
      world.clock.advance(1000);
      await world.controller().reconcile(KEY); // a crash-looping reconciler: every reconcile a new one
    }
    const status = world.vmim('mig')?.status;
    expect(status?.phase).toBe('Failed');
    expect(status?.migrationState?.failureReason).toMatch(/^ProgressTimeout: data remaining has not gone down for 5s/);
    expect(world.agents.called('node-a', 'abortMigration')).toBe(1);
    expect(world.agents.called('node-b', 'releaseTarget')).toBe(1);
  });

  it('a VMI whose cache says gone but the API server still has is not failed', async () => {
    world = new World();
    world.vmis.freeze(); // the VMI is created after the cache last heard
    world.addVmi('vmi');
    world.addVmim('mig', 'vmi', 'Running');
    expect(await world.controller().reconcile(KEY)).toEqual({ requeueAfterMs: 100 });
    expect(world.client.objectWrites()).toEqual([]);
    expect(world.agents.calls).toEqual([]);
  });
});

describe('arrival that never comes', () => {
  it('a source that keeps saying Completed while the target never confirms fails TargetFailed after targetReadyTimeout, without a write per poll', async () => {
    world = new World();
    world.addVmi('vmi');
    world.addVmim('mig', 'vmi', 'Running', { migrationConfiguration: { targetReadyTimeout: 30 } });
    world.agents.script('node-a', 'migrationStatus', { migrationUid: 'uid-mig', state: 'Completed' }).script('node-b', 'confirmArrival', { domainDetected: false });
    let controller = world.controller();
    await controller.reconcile(KEY);
    const writesAfterFirst = world.client.objectWrites().length;
    for (let s = 1; s < 30; s++) {
      world.clock.advance(1000);
      if (s === 15) controller = world.controller(); // a restart does not restart the wait
      await controller.reconcile(KEY);
    }
    expect(world.vmim('mig')?.status?.phase).toBe('Running');
    expect(world.client.objectWrites().length).toBe(writesAfterFirst);
    world.clock.advance(1000);
    await controller.reconcile(KEY);
    const status = world.vmim('mig')?.status;
    expect(status?.phase).toBe('Failed');
    expect(status?.migrationState?.failureReason).toBe('TargetFailed: the source finished but the target never saw the domain run (not detected)');
  });
});
