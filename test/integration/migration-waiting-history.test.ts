// Admission as KubeVirt does it, and history truth, on a whole system (webhook, reconciler,
// simulated nodes) read back through the API server. The tests play virt-handler by patching VMI
// status. A migration of a VMI that is not running yet is admitted and waits; a migration that
// ends before the hand-off to the nodes leaves the VMI's record of its last real migration alone.
import { PLACEMENT_ANNOTATION } from '../../api/vmi-status.js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiException, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { expectVmiAgrees } from '../setup/order-of-truth.js';
import {
  createMigration,
  createRunningVmi,
  deleteMigration,
  eventually,
  getMigration,
  getVmi,
  patchVmiStatus,
  startTestSystem,
  type TestSystem,
} from '../setup/system.js';

let system: TestSystem;
const UNSCHEDULABLE_TIMEOUT = 10;

beforeAll(async () => {
  system = await startTestSystem('wait-hist', {
    nodes: 3,
    nodeLabels: (i) => ({ zone: `z${i}` }),
    webhook: true,
    migrations: `bandwidthPerMigration: 64Mi\nunschedulableTimeout: ${UNSCHEDULABLE_TIMEOUT}`,
  });
}, 180_000);

afterAll(async () => {
  await system?.stop();
});

const node = (i: number): string => system.nodes[i] ?? '';
const admittedCondition = (vmim: VirtualMachineInstanceMigration | undefined) => vmim?.status?.conditions?.find((c) => c.type === 'Admitted');

/** A VMI as virt-handler reports it before it runs (e.g. `Scheduling`); the test plays virt-handler, so placement leaves it alone. */
async function createVmiIn(name: string, status: Record<string, unknown>): Promise<void> {
  await system.custom.createNamespacedCustomObject({
    group: 'kubevirt.io',
    version: 'v1',
    namespace: system.ns,
    plural: 'virtualmachineinstances',
    body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name, annotations: { [PLACEMENT_ANNOTATION]: 'external' } }, spec: { domain: { resources: { requests: { memory: '64Mi' } }, devices: {} } } },
  });
  await patchVmiStatus(system, name, status);
}

async function waitForPhase(name: string, phase: string, ms = 60_000): Promise<VirtualMachineInstanceMigration> {
  const seen = await eventually(`${name} to reach ${phase}`, async () => {
    const vmim = await getMigration(system, name);
    const now = vmim?.status?.phase;
    if (now !== phase && (now === 'Succeeded' || now === 'Failed')) throw new Error(`${name} ended ${now}: ${vmim?.status?.migrationState?.failureReason ?? ''}`);
    return now === phase ? vmim : undefined;
  }, ms, 100);
  await expectVmiAgrees(system, seen);
  return seen;
}

async function waitForWaiting(name: string, reason: string): Promise<VirtualMachineInstanceMigration> {
  return eventually(`${name} to wait with ${reason}`, async () => {
    const vmim = await getMigration(system, name);
    const condition = admittedCondition(vmim);
    return vmim?.status?.phase === 'Scheduling' && condition?.status === 'False' && condition.reason === reason ? vmim : undefined;
  }, 30_000, 100);
}

async function waitGone(name: string): Promise<void> {
  await eventually(`${name} to be gone`, async () => ((await getMigration(system, name)) === undefined ? true : undefined), 30_000, 100);
}

/** A create the webhook refuses: its HTTP code and message, as a client library sees them. */
async function refusal(name: string, vmiName: string): Promise<{ code: number; message: string }> {
  try {
    await createMigration(system, name, vmiName);
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    const body = (typeof error.body === 'string' ? JSON.parse(error.body) : error.body) as { message: string };
    return { code: error.code, message: body.message };
  }
  throw new Error(`${name} was admitted`);
}

describe('a migration of a VMI that is not running yet', () => {
  it('is admitted, waits with Admitted=False VMINotRunning, and runs once the VMI runs', async () => {
    await createVmiIn('vm-late', { phase: 'Scheduling' });
    await createMigration(system, 'late', 'vm-late');
    const waiting = await waitForWaiting('late', 'VMINotRunning');
    expect(admittedCondition(waiting)?.message).toBe(`VMI ${system.ns}/vm-late is not running yet (phase Scheduling); the migration starts once it runs`);
    // It is in flight for the VMI: a second migration is refused as KubeVirt does.
    const second = await refusal('late-again', 'vm-late');
    expect(second.code).toBe(400);
    expect(second.message).toContain(
      `denied the request: in-flight migration detected. Active migration job (${waiting.metadata.uid}) is currently already in progress for VMI vm-late.`,
    );
    await patchVmiStatus(system, 'vm-late', { phase: 'Running', nodeName: node(0) });
    const done = await waitForPhase('late', 'Succeeded');
    expect(done.status?.migrationState).toMatchObject({ sourceNode: node(0), completed: true, failed: false });
    expect(admittedCondition(done)).toMatchObject({ status: 'True', reason: 'SlotGranted' });
    const vmi = await getVmi(system, 'vm-late');
    expect(vmi.status?.migrationState?.migrationUid).toBe(done.metadata.uid);
    expect(vmi.status?.nodeName).toBe(done.status?.migrationState?.targetNode);
  });

  it(`fails VmiNotReady when the VMI does not run within unschedulableTimeout (${UNSCHEDULABLE_TIMEOUT} s)`, async () => {
    await createVmiIn('vm-never', { phase: 'Pending' });
    await createMigration(system, 'never', 'vm-never');
    await waitForWaiting('never', 'VMINotRunning');
    const failed = await waitForPhase('never', 'Failed');
    expect(failed.status?.migrationState?.failureReason).toBe(
      `VmiNotReady: the VMI was not running and live-migratable within ${UNSCHEDULABLE_TIMEOUT}s: VMI ${system.ns}/vm-never is not running yet (phase Pending); the migration starts once it runs`,
    );
    expect((await getVmi(system, 'vm-never')).status?.migrationState).toBeUndefined();
  }, 90_000);

  it("fails with KubeVirt's text when the VMI turns out not live-migratable while it waits", async () => {
    await system.core.createNamespacedPersistentVolumeClaim({
      namespace: system.ns,
      body: { metadata: { name: 'wait-rwo' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
    });
    await createVmiIn('vm-disk', { phase: 'Scheduling' });
    await createMigration(system, 'disk', 'vm-disk');
    await waitForWaiting('disk', 'VMINotRunning');
    // The user gives the VMI a ReadWriteOnce PVC: our VMI controller turns it LiveMigratable=False.
    await system.custom.patchNamespacedCustomObject(
      {
        group: 'kubevirt.io',
        version: 'v1',
        namespace: system.ns,
        plural: 'virtualmachineinstances',
        name: 'vm-disk',
        body: { spec: { volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'wait-rwo' } }] } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await patchVmiStatus(system, 'vm-disk', { phase: 'Running', nodeName: node(0) });
    const failed = await waitForPhase('disk', 'Failed');
    expect(failed.status?.migrationState?.failureReason).toBe(
      'NotMigratable: Cannot migrate VMI, Reason: DisksNotLiveMigratable, Message: PVC wait-rwo is not shared, live migration requires that all PVCs must be shared (using ReadWriteMany access mode)',
    );
  });
});

describe("history truth: the VMI's migrationState is its last real migration", () => {
  it('a queued migration cancelled, and one failed before the hand-off, leave it as it was', async () => {
    await createRunningVmi(system, 'vm-h', { node: node(0) });
    await createMigration(system, 'h1', 'vm-h');
    const first = await waitForPhase('h1', 'Succeeded');
    const record = (await getVmi(system, 'vm-h')).status?.migrationState;
    expect(record).toMatchObject({ migrationUid: first.metadata.uid, completed: true, failed: false, targetNode: first.status?.migrationState?.targetNode });

    // Held in the queue (no node in that zone), then cancelled by deleting it.
    await createMigration(system, 'h2', 'vm-h', { addedNodeSelector: { zone: 'nowhere' } });
    await waitForWaiting('h2', 'NoEligibleNode');
    await deleteMigration(system, 'h2');
    await waitGone('h2');
    expect((await getVmi(system, 'vm-h')).status?.migrationState).toEqual(record);

    // Held the same way until the unschedulable timeout fails it, before any hand-off.
    await createMigration(system, 'h3', 'vm-h', { addedNodeSelector: { zone: 'nowhere' } });
    const third = await waitForPhase('h3', 'Failed');
    expect(third.status?.migrationState).toMatchObject({ migrationUid: third.metadata.uid, failed: true });
    expect(third.status?.migrationState?.failureReason).toMatch(/^Unschedulable: /);
    expect((await getVmi(system, 'vm-h')).status?.migrationState).toEqual(record);
    // The finished migration keeps its own snapshot in its own status.
    expect((await getMigration(system, 'h1'))?.status?.migrationState).toEqual(first.status?.migrationState);
  }, 120_000);
});
