import { afterEach, describe, expect, it } from '@jest/globals';
import { MIGRATION_FINALIZER } from '../../../api/names.js';
import { SCHEDULER_KEY } from './status-writer.js';
import { conflict, KEY, NS, VMIM, World } from './testing-fakes.js';

let world: World;
afterEach(() => expect(world.agents.unexpected).toEqual([]));

describe('MigrationController routing', () => {
  it('a replica that is not the leader reads nothing and writes nothing', async () => {
    world = new World();
    world.addVmi('vmi');
    world.addVmim('mig', 'vmi');
    world.leader = false;
    expect(await world.controller().reconcile(KEY)).toBeUndefined();
    expect(world.client.calls).toEqual([]);
  });

  it('adds the finalizer first when the webhook did not, then writes Pending and Scheduling at once', async () => {
    world = new World();
    world.addVmi('vmi');
    const vmim = world.addVmim('mig', 'vmi');
    world.vmims.server.set(`${NS}/mig`, { ...vmim, metadata: { ...vmim.metadata, finalizers: [] } });
    const controller = world.controller();
    await controller.reconcile(KEY);
    expect(world.vmim('mig')?.metadata.finalizers).toEqual([MIGRATION_FINALIZER]);
    expect(world.vmim('mig')?.status).toBeUndefined();
    await controller.reconcile(KEY);
    expect(world.vmim('mig')?.status?.phaseTransitionTimestamps?.map((p) => p.phase)).toEqual(['Pending', 'Scheduling']);
    expect(world.vmim('mig')?.status?.migrationState).toMatchObject({ migrationUid: 'uid-mig', sourceNode: 'node-a', migrationConfiguration: { targetReadyTimeout: 300 } });
    expect(world.client.objectWrites()).toEqual([`setFinalizers ${VMIM}`, `patchStatus ${VMIM}`]);
  });

  it('a migration of a VMI that does not exist fails at once, before any slot', async () => {
    world = new World();
    world.addVmim('mig', 'missing');
    await world.controller().reconcile(KEY);
    expect(world.vmim('mig')?.status?.phase).toBe('Failed');
    expect(world.vmim('mig')?.status?.migrationState?.failureReason).toBe('VmiGone: VMI ns/missing does not exist');
  });

  it('a write that lost a race is retried soon from a fresh read; a deleted migration is let go', async () => {
    world = new World();
    world.addVmi('vmi');
    world.addVmim('mig', 'vmi', 'Pending');
    world.client.failNext('patchStatus', conflict());
    const controller = world.controller();
    expect(await controller.reconcile(KEY)).toEqual({ requeueAfterMs: 50 });
    expect(world.vmim('mig')?.status?.phase).toBe('Pending');
    expect(await controller.reconcile(KEY)).toBeUndefined();
    expect(world.vmim('mig')?.status?.phase).toBe('Scheduling');
    expect(await controller.reconcile('ns/nothing-here')).toBeUndefined();
  });

  it('an unexpected error surfaces to the runner (which retries with backoff)', async () => {
    world = new World();
    world.addVmi('vmi');
    world.addVmim('mig', 'vmi', 'Pending');
    world.client.failNext('patchStatus', new Error('connection reset'));
    await expect(world.controller().reconcile(KEY)).rejects.toThrow('connection reset');
  });

  it('events only enqueue: a VMI event wakes its own migrations, a migration event also the scheduler', () => {
    world = new World();
    world.addVmi('vmi');
    world.addVmi('other');
    world.addVmim('mig', 'vmi');
    world.addVmim('mig-other', 'other');
    const controller = world.controller();
    const vmi = world.vmi('vmi');
    if (!vmi) throw new Error('no vmi');
    controller.onVmiEvent('MODIFIED', vmi);
    expect(world.queued.map((q) => q.key)).toEqual([KEY]);
    const vmim = world.vmim('mig');
    if (!vmim) throw new Error('no vmim');
    controller.onMigrationEvent('ADDED', vmim);
    expect(world.queued.map((q) => q.key)).toEqual([KEY, KEY, SCHEDULER_KEY]);
    expect(world.client.calls).toEqual([]);
  });
});
