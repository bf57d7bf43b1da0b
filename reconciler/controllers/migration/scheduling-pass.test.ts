import { afterEach, describe, expect, it } from '@jest/globals';
import type { ClusterMigrations } from '../../../api/cluster-config.js';
import { SCHEDULER_KEY } from './status-writer.js';
import { conflict, KEY, NS, readyNode, World } from './testing-fakes.js';
import { WAITING_CONDITION } from './scheduling-pass.js';

let world: World;
afterEach(() => expect(world.agents.unexpected).toEqual([]));

function setUp(limits: Partial<ClusterMigrations>, nodes: string[]) {
  world = new World(limits, nodes);
  return world;
}

/** `count` VMIs on `source`, each with one migration in Scheduling, created a second apart. */
function waiting(source: string, count: number, prefix = source): string[] {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${i}`;
    world.addVmi(`vmi-${name}`, source);
    world.addVmim(name, `vmi-${name}`, 'Scheduling', { source });
    world.clock.advance(1000);
    names.push(name);
  }
  return names;
}

const phaseOf = (name: string) => world.vmim(name)?.status?.phase;
const admitted = (names: string[]) => names.filter((n) => phaseOf(n) === 'PreparingTarget');
const waitReason = (name: string) => world.vmim(name)?.status?.conditions?.find((c) => c.type === WAITING_CONDITION)?.reason;

describe('scheduling pass', () => {
  it('admits no more than parallelMigrationsPerCluster, oldest first, and says why the others wait', async () => {
    setUp({ parallelMigrationsPerCluster: 2 }, ['n1', 'n2', 'n3', 'n4', 'n5', 'n6']);
    const names = [...waiting('n1', 1), ...waiting('n2', 1), ...waiting('n3', 1), ...waiting('n4', 1)];
    await world.controller().reconcile(SCHEDULER_KEY);
    expect(admitted(names)).toEqual(['n1-0', 'n2-0']);
    expect(waitReason('n3-0')).toBe('ClusterLimit');
    expect(waitReason('n4-0')).toBe('ClusterLimit');
    expect(waitReason('n1-0')).toBe('SlotGranted');
    // A second pass (another reconcile, or a restarted replica) admits nothing more.
    await world.controller().reconcile(SCHEDULER_KEY);
    expect(admitted(names)).toEqual(['n1-0', 'n2-0']);
  });

  it('counts its own admissions the cache has not shown yet', async () => {
    setUp({ parallelMigrationsPerCluster: 1 }, ['n1', 'n2', 'n3']);
    const names = [...waiting('n1', 1), ...waiting('n2', 1)];
    world.vmims.freeze();
    const controller = world.controller();
    await controller.reconcile(SCHEDULER_KEY);
    await controller.reconcile(SCHEDULER_KEY);
    expect(admitted(names)).toEqual(['n1-0']);
    expect(waitReason('n2-0')).toBe('ClusterLimit');
  });

  it('respects the outbound and inbound limits per node', async () => {
    setUp({ parallelOutboundMigrationsPerNode: 1, parallelInboundMigrationsPerNode: 1 }, ['src', 'a', 'b', 'other']);
    const fromSrc = waiting('src', 2);
    await world.controller().reconcile(SCHEDULER_KEY);
    expect(admitted(fromSrc)).toEqual(['src-0']);
    expect(waitReason('src-1')).toBe('OutboundLimit');
    // Two more sources: each target may take one inbound; a, b, other and src minus own source.
    const fromOther = [...waiting('a', 1), ...waiting('b', 1), ...waiting('other', 1)];
    await world.controller().reconcile(SCHEDULER_KEY);
    const targets = [...fromSrc, ...fromOther].filter((n) => phaseOf(n) === 'PreparingTarget').map((n) => world.vmim(n)?.status?.migrationState?.targetNode);
    expect(targets).toHaveLength(4);
    expect(new Set(targets).size).toBe(4);
  });

  it('never admits a second migration of a VMI that has one in flight', async () => {
    setUp({}, ['n1', 'n2', 'n3']);
    world.addVmi('vmi', 'n1');
    world.addVmim('running', 'vmi', 'Running', { source: 'n1', target: 'n2' });
    world.addVmim('next', 'vmi', 'Scheduling', { source: 'n1' });
    await world.controller().reconcile(SCHEDULER_KEY);
    expect(phaseOf('next')).toBe('Scheduling');
    // It waits with a reason a user can read, not silently.
    expect(waitReason('next')).toBe('VmiBusy');
  });

  it('of two migrations of one VMI waiting at once, admits one only', async () => {
    setUp({}, ['n1', 'n2', 'n3']);
    world.addVmi('vmi', 'n1');
    world.addVmim('first', 'vmi', 'Scheduling', { source: 'n1' });
    world.clock.advance(1000);
    world.addVmim('second', 'vmi', 'Scheduling', { source: 'n1' });
    const controller = world.controller();
    await controller.reconcile(SCHEDULER_KEY);
    await controller.reconcile(SCHEDULER_KEY);
    await world.controller().reconcile(SCHEDULER_KEY);
    expect([phaseOf('first'), phaseOf('second')]).toEqual(['PreparingTarget', 'Scheduling']);
    expect(waitReason('second')).toBe('VmiBusy');
  });

  it('a second migration of a busy VMI takes no slot from another VMI', async () => {
    setUp({ parallelMigrationsPerCluster: 2 }, ['n1', 'n2', 'n3']);
    world.addVmi('a', 'n1');
    world.addVmi('b', 'n2');
    world.addVmim('a1', 'a', 'Scheduling', { source: 'n1' });
    world.clock.advance(1000);
    world.addVmim('a2', 'a', 'Scheduling', { source: 'n1' });
    world.clock.advance(1000);
    world.addVmim('b1', 'b', 'Scheduling', { source: 'n2' });
    await world.controller().reconcile(SCHEDULER_KEY);
    expect([phaseOf('a1'), phaseOf('a2'), phaseOf('b1')]).toEqual(['PreparingTarget', 'Scheduling', 'PreparingTarget']);
    expect(waitReason('a2')).toBe('VmiBusy');
  });

  it('no eligible node: waits with NoEligibleNode, then fails Unschedulable after unschedulableTimeout', async () => {
    setUp({}, ['n1']);
    waiting('n1', 1);
    world.config = { ...world.config, migrations: { ...world.config.migrations, unschedulableTimeout: 60 } };
    await world.controller().reconcile(SCHEDULER_KEY);
    expect(waitReason('n1-0')).toBe('NoEligibleNode');
    world.clock.advance(59_999);
    // Its stamped configuration (default 300 s) wins over the cluster's later value.
    expect(await world.controller().reconcile(SCHEDULER_KEY)).toEqual({ requeueAfterMs: 240_001 });
    world.clock.advance(240_001);
    await world.controller().reconcile(SCHEDULER_KEY);
    expect(phaseOf('n1-0')).toBe('Failed');
    expect(world.vmim('n1-0')?.status?.migrationState?.failureReason).toMatch(/^Unschedulable: no eligible target node for 300s: 0\/1 nodes eligible: n1 is the source/);
  });

  it('a node without a live agent is not a target; a new node opens a slot', async () => {
    setUp({}, ['n1', 'n2']);
    world.agents.setLive('n2', false);
    waiting('n1', 1);
    await world.controller().reconcile(SCHEDULER_KEY);
    expect(waitReason('n1-0')).toBe('NoEligibleNode');
    world.nodes.server.set('/n3', readyNode('n3'));
    await world.controller().reconcile(SCHEDULER_KEY);
    expect(world.vmim('n1-0')?.status?.migrationState?.targetNode).toBe('n3');
  });

  it('an admission that loses a race (409) is looked at again at once, and the others still go', async () => {
    setUp({}, ['n1', 'n2', 'n3']);
    const names = [...waiting('n1', 1), ...waiting('n2', 1)];
    world.client.failNext('patchStatus', conflict());
    expect(await world.controller().reconcile(SCHEDULER_KEY)).toEqual({ requeueAfterMs: 50 });
    expect(admitted(names)).toEqual(['n2-0']);
  });

  describe('a VMI not running or not evaluated yet', () => {
    function vmiStatus(status: Record<string, unknown>): void {
      const vmi = world.vmis.server.get(`${NS}/vmi`);
      if (!vmi) throw new Error('no VMI');
      world.vmis.server.set(`${NS}/vmi`, { ...vmi, metadata: { ...vmi.metadata, resourceVersion: world.client.nextRevision() }, status: status as typeof vmi.status });
    }
    const admittedCondition = () => world.vmim('mig')?.status?.conditions?.find((c) => c.type === WAITING_CONDITION);

    /** A migration created (no phase yet) for a VMI that virt-handler reports as Scheduling. */
    async function queuedForSchedulingVmi(): Promise<void> {
      setUp({}, ['n1', 'n2']);
      world.addVmi('vmi', 'n1');
      vmiStatus({ phase: 'Scheduling' });
      world.addVmim('mig', 'vmi');
      const controller = world.controller();
      await controller.reconcile(KEY);
      await controller.reconcile(SCHEDULER_KEY);
    }

    it('is admitted into the queue, waits with VMINotRunning, and goes on once the VMI runs and is LiveMigratable', async () => {
      await queuedForSchedulingVmi();
      expect(phaseOf('mig')).toBe('Scheduling');
      expect(world.vmim('mig')?.status?.migrationState?.sourceNode).toBe('');
      expect(admittedCondition()).toMatchObject({ status: 'False', reason: 'VMINotRunning', message: 'VMI ns/vmi is not running yet (phase Scheduling); the migration starts once it runs' });
      // Running, not evaluated yet: still waits, now saying so.
      vmiStatus({ phase: 'Running', nodeName: 'n1' });
      await world.controller().reconcile(SCHEDULER_KEY);
      expect(admittedCondition()).toMatchObject({ status: 'False', reason: 'VMINotEvaluated' });
      vmiStatus({ phase: 'Running', nodeName: 'n1', conditions: [{ type: 'LiveMigratable', status: 'True' }] });
      await world.controller().reconcile(SCHEDULER_KEY);
      expect(phaseOf('mig')).toBe('PreparingTarget');
      expect(world.vmim('mig')?.status?.migrationState).toMatchObject({ sourceNode: 'n1', targetNode: 'n2' });
      expect(admittedCondition()).toMatchObject({ status: 'True', reason: 'SlotGranted' });
    });

    it('takes no slot while it waits', async () => {
      setUp({ parallelMigrationsPerCluster: 1 }, ['n1', 'n2', 'n3']);
      world.addVmi('vmi', 'n1');
      vmiStatus({ phase: 'Pending' });
      world.addVmim('mig', 'vmi', 'Scheduling', { source: '' });
      world.clock.advance(1000);
      const other = waiting('n3', 1);
      await world.controller().reconcile(SCHEDULER_KEY);
      expect(admitted(other)).toEqual(other);
      expect(waitReason('mig')).toBe('VMINotRunning');
    });

    it('fails VmiNotReady after unschedulableTimeout, with the reason it waited', async () => {
      await queuedForSchedulingVmi();
      world.clock.advance(299_000);
      expect(await world.controller().reconcile(SCHEDULER_KEY)).toEqual({ requeueAfterMs: 1000 });
      world.clock.advance(1000);
      await world.controller().reconcile(SCHEDULER_KEY);
      expect(phaseOf('mig')).toBe('Failed');
      expect(world.vmim('mig')?.status?.migrationState?.failureReason).toBe(
        'VmiNotReady: the VMI was not running and live-migratable within 300s: VMI ns/vmi is not running yet (phase Scheduling); the migration starts once it runs',
      );
      // Never handed to the nodes: the VMI's own record is untouched.
      expect(world.vmi('vmi')?.status?.migrationState).toBeUndefined();
    });

    it("fails with KubeVirt's text when the VMI turns out not live-migratable while it waits", async () => {
      await queuedForSchedulingVmi();
      vmiStatus({ phase: 'Running', nodeName: 'n1', conditions: [{ type: 'LiveMigratable', status: 'False', reason: 'DisksNotLiveMigratable', message: 'PVC data is not shared' }] });
      await world.controller().reconcile(SCHEDULER_KEY);
      expect(phaseOf('mig')).toBe('Failed');
      expect(world.vmim('mig')?.status?.migrationState?.failureReason).toBe('NotMigratable: Cannot migrate VMI, Reason: DisksNotLiveMigratable, Message: PVC data is not shared');
    });
  });
});
