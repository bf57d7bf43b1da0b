import { afterEach, describe, expect, it } from '@jest/globals';
import { applyPhase } from '../../phases.js';
import { abortOutcomeOf } from './abort-and-finalize.js';
import { KEY, unreachable, VMI, VMIM, World } from './testing-fakes.js';
import { VMI_SHUTDOWN_MESSAGE } from './vmi-rules.js';

let world: World;
afterEach(() => expect(world.agents.unexpected).toEqual([]));

/** A migration in TargetReady whose start reached the source but whose answer was lost, then deleted. */
async function lostStartThenDeleted() {
  world = new World();
  world.addVmi('vmi');
  world.addVmim('mig', 'vmi', 'TargetReady');
  world.agents.script('node-a', 'startMigration', unreachable('node-a'));
  const controller = world.controller();
  expect(await controller.reconcile(KEY)).toEqual({ requeueAfterMs: 1000 });
  world.clock.advance(500);
  world.userDeletesVmim('mig');
  await controller.reconcile(KEY); // the abort request is recorded before anything is asked
  expect(world.vmim('mig')?.status?.migrationState).toMatchObject({ abortRequested: true, abortStatus: 'Aborting' });
  expect(world.vmi('vmi')?.status?.migrationState).toMatchObject({ abortRequested: true, abortStatus: 'Aborting' });
  expect(world.agents.called('node-a', 'abortMigration')).toBe(0);
  return controller;
}

describe('cancel from TargetReady (a start may have reached the source)', () => {
  it("the source answers 'completed-first' and the target confirms: Succeeded with abortStatus Failed", async () => {
    const controller = await lostStartThenDeleted();
    world.agents.script('node-a', 'abortMigration', { result: 'completed-first' }).script('node-b', 'confirmArrival', { domainDetected: true });
    await controller.reconcile(KEY);
    const status = world.vmim('mig')?.status;
    expect(status?.phase).toBe('Succeeded');
    expect(status?.migrationState).toMatchObject({ abortRequested: true, abortStatus: 'Failed', completed: true, failed: false });
    expect(world.vmi('vmi')?.status).toMatchObject({ nodeName: 'node-b', migrationState: { abortStatus: 'Failed', completed: true } });
    expect(world.agents.called('node-a', 'abortMigration')).toBe(1);
    expect(world.agents.called('node-b', 'releaseTarget')).toBe(0); // the VM runs there now
    expect(world.client.objectWrites().slice(-2)).toEqual([`patchStatus ${VMI}`, `patchStatus ${VMIM}`]);

    await controller.reconcile(KEY); // final: the finalizer comes off and the API server lets it go
    expect(world.vmim('mig')).toBeUndefined();
  });

  it("the source answers 'aborted': Failed with abortStatus Succeeded, the target released", async () => {
    const controller = await lostStartThenDeleted();
    world.agents.script('node-a', 'abortMigration', { result: 'aborted' });
    await controller.reconcile(KEY);
    const status = world.vmim('mig')?.status;
    expect(status?.phase).toBe('Failed');
    expect(status?.migrationState).toMatchObject({ abortRequested: true, abortStatus: 'Succeeded', completed: true, failed: true });
    expect(status?.migrationState?.failureReason).toMatch(/^Aborted: /);
    expect(world.agents.called('node-b', 'releaseTarget')).toBe(1);
    expect(world.vmi('vmi')?.status).toMatchObject({ nodeName: 'node-a', migrationState: { abortStatus: 'Succeeded', failed: true } });
    expect(world.client.events()).toContain('VirtualMachineInstanceMigration/mig MigrationAborted');

    await controller.reconcile(KEY);
    expect(world.vmim('mig')).toBeUndefined();
  });

  it('a source that never answers the abort ends it after targetReadyTimeout with abortStatus Failed', async () => {
    const controller = await lostStartThenDeleted();
    world.agents.script('node-a', 'abortMigration', unreachable('node-a'));
    await controller.reconcile(KEY);
    world.clock.advance(299_999);
    expect(await world.controller().reconcile(KEY)).toEqual({ requeueAfterMs: 1000 });
    world.clock.advance(1);
    await world.controller().reconcile(KEY);
    expect(world.vmim('mig')?.status?.migrationState).toMatchObject({ abortStatus: 'Failed', failed: true });
    expect(world.vmim('mig')?.status?.migrationState?.failureReason).toMatch(/^AgentUnreachable: abort not confirmed/);
  });
});

describe('cancel before the hand-off', () => {
  it('fails at once with abortStatus Succeeded, releases a chosen target, never calls the source', async () => {
    world = new World();
    world.addVmi('vmi');
    world.addVmim('mig', 'vmi', 'PreparingTarget');
    world.userDeletesVmim('mig');
    const controller = world.controller();
    await controller.reconcile(KEY);
    expect(world.vmim('mig')?.status?.migrationState).toMatchObject({ abortStatus: 'Succeeded', failed: true, failureReason: 'Aborted: cancelled in phase PreparingTarget' });
    expect(world.agents.calls.map((c) => `${c.node}.${c.method}`)).toEqual(['node-b.releaseTarget']);
    expect(world.client.objectWrites()).toEqual([`patchStatus ${VMIM}`]); // the VMI never showed it
    await controller.reconcile(KEY);
    expect(world.vmim('mig')).toBeUndefined();
  });
});

describe('the VMI shuts down under its migration', () => {
  it('VMI deleted while Running: source aborted, target released, Failed with KubeVirt text; then finalizer off and VMIM deleted', async () => {
    world = new World();
    world.addVmi('vmi');
    world.addVmim('mig', 'vmi', 'Running');
    world.agents.script('node-a', 'abortMigration', { result: 'aborted' });
    world.vmiGone('vmi');
    const controller = world.controller();

    await controller.reconcile(KEY);
    expect(world.agents.calls.map((c) => `${c.node}.${c.method}`)).toEqual(['node-a.abortMigration', 'node-b.releaseTarget']);
    expect(world.vmim('mig')?.status?.phase).toBe('Failed');
    expect(world.vmim('mig')?.status?.migrationState?.failureReason).toBe('VmiGone: Migration failed vmi shutdown during migration.');

    await controller.reconcile(KEY);
    expect(world.vmim('mig')?.metadata.finalizers).toEqual([]);
    await controller.reconcile(KEY);
    expect(world.vmim('mig')).toBeUndefined();
    expect(world.client.calls.map((c) => `${c.op} ${c.target}`)).toEqual([
      `exists ${VMI}`, // "gone" confirmed by a live read
      `patchStatus ${VMIM}`,
      'event VirtualMachineInstanceMigration/mig',
      `setFinalizers ${VMIM}`,
      `exists ${VMI}`,
      `delete ${VMIM}`,
    ]);
  });

  it('VMI stopped (Succeeded) while Running: Failed on the VMIM and on the VMI, which keeps its node', async () => {
    world = new World();
    const vmi = world.addVmi('vmi');
    world.addVmim('mig', 'vmi', 'Running');
    world.vmis.server.set('ns/vmi', { ...vmi, status: { ...world.vmi('vmi')?.status, phase: 'Succeeded' } });
    world.agents.script('node-a', 'abortMigration', { result: 'not-found' });
    await world.controller().reconcile(KEY);
    expect(world.client.objectWrites()).toEqual([`patchStatus ${VMI}`, `patchStatus ${VMIM}`]);
    expect(world.vmi('vmi')?.status).toMatchObject({ nodeName: 'node-a', migrationState: { failed: true, failureReason: `VmiGone: ${VMI_SHUTDOWN_MESSAGE}` } });
    await world.controller().reconcile(KEY); // final, VMI still there: finalizer off, VMIM kept
    await world.controller().reconcile(KEY);
    expect(world.vmim('mig')?.metadata.finalizers).toEqual([]);
    expect(world.client.objectWrites()).not.toContain(`delete ${VMIM}`);
  });
});

describe('finalize', () => {
  it('keeps the newest finishedMigrationsPerVMI final migrations of a VMI', async () => {
    world = new World({ finishedMigrationsPerVMI: 1 });
    world.addVmi('vmi');
    for (const name of ['old', 'mig']) {
      const vmim = world.addVmim(name, 'vmi', 'Running');
      const done = applyPhase(vmim.status, { phase: 'Succeeded' }, world.clock.iso());
      if (!done.ok) throw new Error(done.error);
      world.vmims.server.set(`ns/${name}`, { ...vmim, metadata: { ...vmim.metadata, finalizers: [] }, status: done.status });
      world.clock.advance(1000);
    }
    await world.controller().reconcile(KEY);
    expect(world.vmim('old')).toBeUndefined();
    expect(world.vmim('mig')).toBeDefined();
    // The final state is repaired onto the VMI first (it still showed the migration Running).
    expect(world.client.objectWrites()).toEqual([`patchStatus ${VMI}`, 'delete virtualmachineinstancemigrations/old']);
    expect(world.vmi('vmi')?.status?.nodeName).toBe('node-b');
  });
});

describe('abortOutcomeOf', () => {
  it('maps the agent answers: not-found is aborted (nothing runs there), failed keeps its message', () => {
    expect(abortOutcomeOf({ result: 'not-found' })).toEqual({ result: 'aborted' });
    expect(abortOutcomeOf({ result: 'aborted' })).toEqual({ result: 'aborted' });
    expect(abortOutcomeOf({ result: 'completed-first' })).toEqual({ result: 'completed-first' });
    expect(abortOutcomeOf({ result: 'failed', message: 'libvirt said no' })).toEqual({ result: 'failed', reason: 'SourceFailed', message: 'libvirt said no' });
  });
});

describe('cancel when the switch-over won but the target never confirms', () => {
  it('ends Failed with abortStatus Failed (not left Aborting) after targetReadyTimeout, and the finalizer comes off', async () => {
    world = new World();
    world.addVmi('vmi');
    world.addVmim('mig', 'vmi', 'Running', { migrationConfiguration: { targetReadyTimeout: 30 } });
    world.userDeletesVmim('mig');
    world.agents.script('node-a', 'abortMigration', { result: 'completed-first' }).script('node-b', 'confirmArrival', { domainDetected: false });
    const controller = world.controller();
    await controller.reconcile(KEY); // abort requested, recorded
    let waited = 0;
    while (world.vmim('mig')?.status?.phase === 'Running' && waited < 40) {
      await controller.reconcile(KEY);
      if (world.vmim('mig')?.status?.phase !== 'Running') break;
      world.clock.advance(1000);
      waited++;
    }
    expect(waited).toBe(30);
    const status = world.vmim('mig')?.status;
    expect(status?.phase).toBe('Failed');
    expect(status?.migrationState).toMatchObject({ abortRequested: true, abortStatus: 'Failed', completed: true, failed: true });
    expect(status?.migrationState?.failureReason).toMatch(/^TargetFailed: the source finished but the target never saw the domain run/);
    expect(world.vmi('vmi')?.status?.migrationState).toMatchObject({ abortStatus: 'Failed', failed: true });
    await controller.reconcile(KEY);
    expect(world.vmim('mig')).toBeUndefined();
  });
});
