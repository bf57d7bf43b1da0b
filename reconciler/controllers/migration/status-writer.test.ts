import { afterEach, describe, expect, it } from '@jest/globals';
import { FailureReason } from '../../failure-reasons.js';
import { StatusWriter } from './status-writer.js';
import { conflict, NS, VMI, VMIM, World } from './testing-fakes.js';

function setUp(phase: Parameters<World['addVmim']>[2]) {
  const world = new World();
  world.addVmi('vmi');
  world.addVmim('mig', 'vmi', phase);
  world.clock.advance(1000);
  const writer = new StatusWriter(world.deps());
  const read = () => {
    const vmim = writer.migration(NS, 'mig');
    if (!vmim) throw new Error('no vmim');
    return vmim;
  };
  return { world, writer, read };
}

describe('StatusWriter: the order of truth', () => {
  let world: World | undefined;
  afterEach(() => expect(world?.agents.unexpected ?? []).toEqual([]));

  it('writes the VMI before the VMIM when the migration starts running', async () => {
    const t = setUp('TargetReady');
    world = t.world;
    await t.writer.transition(t.read(), [{ phase: 'Running' }]);
    expect(t.world.client.objectWrites()).toEqual([`patchStatus ${VMI}`, `patchStatus ${VMIM}`]);
    expect(t.world.vmi('vmi')?.status?.migrationState?.startTimestamp).toBe(t.world.clock.iso());
    expect(t.world.vmim('mig')?.status?.phase).toBe('Running');
  });

  it('writes the VMI (now on the target) before the VMIM says Succeeded', async () => {
    const t = setUp('Running');
    world = t.world;
    await t.writer.transition(t.read(), [{ phase: 'Succeeded' }]);
    expect(t.world.client.objectWrites()).toEqual([`patchStatus ${VMI}`, `patchStatus ${VMIM}`]);
    expect(t.world.vmi('vmi')?.status).toMatchObject({ nodeName: 'node-b', migrationState: { completed: true, failed: false } });
    expect(t.world.client.events()).toEqual(['VirtualMachineInstanceMigration/mig MigrationSucceeded', 'VirtualMachineInstance/vmi Migrated']);
  });

  it('writes the VMI before the VMIM says Failed after the hand-off', async () => {
    const t = setUp('Running');
    world = t.world;
    await t.writer.fail(t.read(), FailureReason.ProgressTimeout, 'stuck');
    expect(t.world.client.objectWrites()).toEqual([`patchStatus ${VMI}`, `patchStatus ${VMIM}`]);
    expect(t.world.vmi('vmi')?.status?.migrationState).toMatchObject({ failed: true, failureReason: 'ProgressTimeout: stuck' });
    expect(t.world.vmi('vmi')?.status?.nodeName).toBe('node-a');
  });

  it('a failure before TargetReady never touches the VMI', async () => {
    const t = setUp('PreparingTarget');
    world = t.world;
    const before = t.world.vmi('vmi');
    await t.writer.fail(t.read(), FailureReason.TargetNotReady, 'target not ready within 300s');
    expect(t.world.client.objectWrites()).toEqual([`patchStatus ${VMIM}`]);
    expect(t.world.vmi('vmi')).toEqual(before);
    expect(t.world.client.events()).toEqual(['VirtualMachineInstanceMigration/mig MigrationFailed']);
  });

  it('a hand-off whose VMIM write was lost still ends with the VMI agreeing (it was told, so it is kept true)', async () => {
    const t = setUp('PreparingTarget');
    world = t.world;
    const ready = { phase: 'TargetReady' as const, targetNodeAddress: '10.0.0.2', targetDirectMigrationNodePorts: { '49152': 0 }, targetPod: 'agent-node-b' };
    t.world.client.failNext('patchStatus', conflict(), 'virtualmachineinstancemigrations');
    await expect(t.writer.transition(t.read(), [ready])).rejects.toThrow();
    expect(t.world.vmi('vmi')?.status?.migrationState?.completed).toBe(false);
    expect(t.world.vmim('mig')?.status?.phase).toBe('PreparingTarget');
    // The migration then ends before any hand-off is recorded on the VMIM (e.g. a cancel).
    await t.writer.fail(t.read(), FailureReason.Aborted, 'cancelled in phase PreparingTarget');
    expect(t.world.vmi('vmi')?.status?.migrationState).toMatchObject({ completed: true, failed: true, failureReason: 'Aborted: cancelled in phase PreparingTarget' });
    expect(t.world.client.objectWrites().slice(-2)).toEqual([`patchStatus ${VMI}`, `patchStatus ${VMIM}`]);
  });

  it("a new hand-off replaces the VMI's record of the last migration whole: no abort or failure fields of that one remain", async () => {
    const t = setUp('PreparingTarget');
    world = t.world;
    const vmi = t.world.vmis.server.get('ns/vmi');
    if (!vmi?.status) throw new Error('no vmi');
    vmi.status.migrationState = { migrationUid: 'uid-old', completed: true, failed: true, abortRequested: true, abortStatus: 'Succeeded', failureReason: 'Aborted: cancelled while running' };
    const ready = { phase: 'TargetReady' as const, targetNodeAddress: '10.0.0.2', targetDirectMigrationNodePorts: { '49152': 0 }, targetPod: 'agent-node-b' };
    await t.writer.transition(t.read(), [ready]);
    const shown = t.world.vmi('vmi')?.status?.migrationState ?? {};
    expect(shown.migrationUid).toBe('uid-mig');
    expect(Object.keys(shown).filter((k) => ['abortRequested', 'abortStatus', 'failureReason'].includes(k))).toEqual([]);
    expect(shown).toMatchObject({ completed: false, failed: false });
  });

  it('when the VMI write fails, the VMIM is not written', async () => {
    const t = setUp('TargetReady');
    world = t.world;
    t.world.client.failNext('patchStatus', conflict(), 'virtualmachineinstances');
    await expect(t.writer.transition(t.read(), [{ phase: 'Running' }])).rejects.toMatchObject({ code: 409 });
    expect(t.world.client.calls.map((c) => `${c.op} ${c.target} ${c.ok}`)).toEqual([`patchStatus ${VMI} false`]);
    expect(t.world.vmim('mig')?.status?.phase).toBe('TargetReady');
  });

  it('a write decided on a stale VMIM fails with 409 and changes nothing', async () => {
    const t = setUp('PreparingTarget');
    world = t.world;
    const stale = t.read();
    await t.writer.fail(stale, FailureReason.TargetNotReady, 'first');
    await expect(t.writer.fail(stale, FailureReason.TargetNotReady, 'second')).rejects.toMatchObject({ code: 409 });
    expect(t.world.vmim('mig')?.status?.migrationState?.failureReason).toBe('TargetNotReady: first');
  });

  it('reads its own write before the cache shows it', async () => {
    const t = setUp('TargetReady');
    world = t.world;
    t.world.vmims.freeze();
    t.world.vmis.freeze();
    await t.writer.transition(t.read(), [{ phase: 'Running' }]);
    expect(t.world.vmims.get('mig', NS)?.status?.phase).toBe('TargetReady');
    expect(t.read().status?.phase).toBe('Running');
    expect(t.writer.vmiOf(t.read())?.status?.migrationState?.startTimestamp).toBe(t.world.clock.iso());
  });

  it('a replica that is not the leader writes nothing', async () => {
    const t = setUp('TargetReady');
    world = t.world;
    t.world.leader = false;
    await expect(t.writer.transition(t.read(), [{ phase: 'Running' }])).rejects.toThrow();
    expect(t.world.client.objectWrites()).toEqual([]);
  });
});
