// Cancel in every phase and the two timeouts, on simulated nodes, read back through the API server.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoordinationV1Api, PatchStrategy, V1MicroTime, setHeaderOptions } from '@kubernetes/client-node';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { createMigration, createRunningVmi, deleteMigration, eventually, getMigration, getVmi, listMigrations, setMigrationsConfig, startTestSystem, type TestSystem } from '../setup/system.js';
import { expectVmiAgrees } from '../setup/order-of-truth.js';
import { recordMigrations, type VmimRecorder } from '../setup/vmim-recorder.js';

let system: TestSystem;
let recorder: VmimRecorder;

beforeAll(async () => {
  system = await startTestSystem('rec-cancel', {
    nodes: 3,
    nodeLabels: (i) => ({ zone: `z${i}` }),
    migrations: 'bandwidthPerMigration: 32Mi\nparallelMigrationsPerCluster: 1',
  });
  recorder = await recordMigrations(system);
}, 180_000);

afterAll(async () => {
  recorder?.stop();
  await system?.stop();
});

async function waitForPhase(name: string, phase: string, ms = 30_000): Promise<VirtualMachineInstanceMigration> {
  const seen = await eventually(`${name} to reach ${phase}`, async () => {
    const vmim = await getMigration(system, name);
    const now = vmim?.status?.phase;
    // A final phase other than the one awaited will not change: say so at once, with the reason.
    if (now !== phase && (now === 'Succeeded' || now === 'Failed')) throw new Error(`${name} ended ${now}: ${vmim?.status?.migrationState?.failureReason ?? ''}`);
    return now === phase ? vmim : undefined;
  }, ms, 100);
  await expectVmiAgrees(system, seen);
  return seen;
}

async function waitGone(name: string): Promise<void> {
  await eventually(`${name} to be gone`, async () => ((await getMigration(system, name)) === undefined ? true : undefined), 30_000, 100);
}

describe('cancel (deleting the VMIM)', () => {
  it('while Running: the source aborts, the VMI stays on its source, abortStatus Succeeded', async () => {
    const source = system.nodes[0] ?? '';
    await createRunningVmi(system, 'vm-run', { node: source, memory: '1Gi' });
    await createMigration(system, 'cancel-running', 'vm-run');
    const running = await waitForPhase('cancel-running', 'Running');
    await deleteMigration(system, 'cancel-running');
    await waitGone('cancel-running');
    const vmi = await getVmi(system, 'vm-run');
    expect(vmi.status?.nodeName).toBe(source);
    expect(vmi.status?.migrationState).toMatchObject({
      migrationUid: running.metadata.uid,
      abortRequested: true,
      abortStatus: 'Succeeded',
      completed: true,
      failed: true,
    });
    expect(vmi.status?.migrationState?.failureReason).toMatch(/^Aborted: /);
  });

  it('while queued (Scheduling, behind the cluster limit): it fails at once and is gone', async () => {
    await createRunningVmi(system, 'vm-long', { node: system.nodes[0] ?? '', memory: '1Gi' });
    await createRunningVmi(system, 'vm-queued', { node: system.nodes[1] ?? '' });
    await createMigration(system, 'long', 'vm-long');
    await waitForPhase('long', 'Running');
    await createMigration(system, 'queued', 'vm-queued');
    const queued = await eventually('queued to wait for the cluster limit', async () => {
      const vmim = await getMigration(system, 'queued');
      const waiting = vmim?.status?.conditions?.find((c) => c.type === 'Admitted');
      return vmim?.status?.phase === 'Scheduling' && waiting?.reason === 'ClusterLimit' ? vmim : undefined;
    });
    expect(queued.status?.conditions?.find((c) => c.type === 'Admitted')?.message).toContain('(limit 1)');
    await deleteMigration(system, 'queued');
    // Its last version before it went: final, the abort recorded, the reason naming the phase.
    const final = await recorder.finalBeforeGone('queued');
    expect(final.status?.phase).toBe('Failed');
    expect(final.status?.migrationState).toMatchObject({ abortRequested: true, abortStatus: 'Succeeded', failed: true, failureReason: 'Aborted: cancelled in phase Scheduling' });
    // Never started: no slot was taken, the VMI did not move.
    expect(final.status?.phaseTransitionTimestamps?.map((p) => p.phase)).not.toContain('Scheduled');
    const vmi = await getVmi(system, 'vm-queued');
    expect(vmi.status?.nodeName).toBe(system.nodes[1]);
    await deleteMigration(system, 'long');
    await waitGone('long');
  });

  it('while PreparingTarget (the target agent does not answer): it fails at once and is gone', async () => {
    // A node whose agent is registered but unreachable: a fresh Lease, an endpoint nobody listens on.
    const ghost = `${system.nodes[0]}-ghost`;
    await system.core.createNode({ body: { metadata: { name: ghost, labels: { zone: 'ghost' } } } });
    await system.core.patchNodeStatus(
      { name: ghost, body: { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Test', lastHeartbeatTime: new Date(), lastTransitionTime: new Date() }], addresses: [{ type: 'InternalIP', address: '127.0.0.1' }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await system.core.patchNode(
      { name: ghost, body: { metadata: { annotations: { 'live-migration.io/agent-endpoint': 'https://127.0.0.1:9' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const coordination = system.kubeConfig.makeApiClient(CoordinationV1Api);
    await coordination.createNamespacedLease({
      namespace: system.ns,
      body: { metadata: { name: `agent-${ghost}` }, spec: { holderIdentity: ghost, leaseDurationSeconds: 300, renewTime: new V1MicroTime(Date.now()) } },
    });
    try {
      await createRunningVmi(system, 'vm-ghost', { node: system.nodes[0] ?? '' });
      await createMigration(system, 'to-ghost', 'vm-ghost', { addedNodeSelector: { zone: 'ghost' } });
      const preparing = await waitForPhase('to-ghost', 'PreparingTarget');
      expect(preparing.status?.migrationState?.targetNode).toBe(ghost);
      await deleteMigration(system, 'to-ghost');
      const final = await recorder.finalBeforeGone('to-ghost');
      expect(final.status?.phase).toBe('Failed');
      expect(final.status?.migrationState).toMatchObject({ abortRequested: true, abortStatus: 'Succeeded', failed: true, failureReason: 'Aborted: cancelled in phase PreparingTarget', targetNode: ghost });
      const vmi = await getVmi(system, 'vm-ghost');
      expect(vmi.status?.nodeName).toBe(system.nodes[0]);
    } finally {
      await system.core.deleteNode({ name: ghost }).catch(() => undefined);
    }
  });
});

describe('timeouts', () => {
  it('a guest dirtying memory faster than the cap fails with ProgressTimeout and stays on its source', async () => {
    const source = system.nodes[1] ?? '';
    await createRunningVmi(system, 'vm-dirty', { node: source, memory: '256Mi', annotations: { 'simulation.live-migration.io/dirty-rate': '64Mi' } });
    await createMigration(system, 'dirty', 'vm-dirty', { migrationConfiguration: { progressTimeout: 3 } });
    const failed = await waitForPhase('dirty', 'Failed', 60_000);
    expect(failed.status?.migrationState?.failureReason).toMatch(/^ProgressTimeout: data remaining has not gone down for 3s/);
    const vmi = await getVmi(system, 'vm-dirty');
    expect(vmi.status?.nodeName).toBe(source);
    expect(vmi.status?.migrationState?.failed).toBe(true);
  });

  it('a migration over its completion budget fails with CompletionTimeout and stays on its source', async () => {
    const source = system.nodes[2] ?? '';
    // 1 GiB at 32 MiB/s needs 32 s; the budget is 3 s per GiB.
    await createRunningVmi(system, 'vm-big', { node: source, memory: '1Gi' });
    await createMigration(system, 'big', 'vm-big', { migrationConfiguration: { completionTimeoutPerGiB: 3 } });
    const failed = await waitForPhase('big', 'Failed', 60_000);
    expect(failed.status?.migrationState?.failureReason).toBe('CompletionTimeout: not completed within 3s (3s per GiB × 1 GiB)');
    expect((await getVmi(system, 'vm-big')).status?.nodeName).toBe(source);
  });
});

describe('history', () => {
  it('keeps the newest finishedMigrationsPerVMI finished migrations of a VMI and deletes older ones', async () => {
    // Resolves once the reconciler decides under the new history size.
    await setMigrationsConfig(system, 'bandwidthPerMigration: 64Mi\nparallelMigrationsPerCluster: 1\nfinishedMigrationsPerVMI: 2');
    await createRunningVmi(system, 'vm-hist', { node: system.nodes[0] ?? '', memory: '16Mi' });
    for (let i = 1; i <= 4; i++) {
      await createMigration(system, `hist-${i}`, 'vm-hist');
      await waitForPhase(`hist-${i}`, 'Succeeded');
    }
    const kept = await eventually('older ones pruned', async () => {
      const names = (await listMigrations(system)).filter((m) => m.spec.vmiName === 'vm-hist').map((m) => m.metadata.name).sort();
      return names.length === 2 ? names : undefined;
    }, 20_000);
    expect(kept).toEqual(['hist-3', 'hist-4']);
  });
});
