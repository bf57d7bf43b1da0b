// Cancel in each phase before Running, the waiting-phase timeouts, and the inbound limit reached
// and holding — on simulated nodes, judged from what the API server holds. Agents that do not
// answer are "ghost" nodes (test/setup/ghost-node.ts). Each test has its own VMIs and VMIMs.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { stopComponent } from '../../hack/system/local-system.js';
import { createGhostNode } from '../setup/ghost-node.js';
import { expectVmiAgrees } from '../setup/order-of-truth.js';
import { createMigration, createRunningVmi, deleteMigration, eventually, getMigration, getVmi, listMigrations, startTestSystem, type TestSystem } from '../setup/system.js';
import { recordMigrations, type VmimRecorder } from '../setup/vmim-recorder.js';
import { slotPeaks } from '../setup/slot-timeline.js';
import { ABORT_ARRIVES_LATE_ANNOTATION, REFUSE_TARGET_ANNOTATION } from '../../agent/simulation/simulation-driver.js';

let system: TestSystem;
let recorder: VmimRecorder;

beforeAll(async () => {
  system = await startTestSystem('rec-phases', {
    nodes: 6,
    nodeLabels: (i) => ({ zone: `z${i}` }),
    migrations: 'bandwidthPerMigration: 64Mi\nparallelInboundMigrationsPerNode: 1',
    // Nodes 5 and 6 have an agent process of their own, killed by the agent-gone test (a simulated
    // guest moves only between nodes of one process, so both ends live there).
    agents: (names) => [
      { nodes: names.slice(0, 4), driver: 'simulation' },
      { nodes: names.slice(4), driver: 'simulation' },
    ],
  });
  recorder = await recordMigrations(system);
}, 180_000);

afterAll(async () => {
  recorder?.stop();
  await system?.stop();
});

const node = (i: number): string => system.nodes[i] ?? '';
const phasesOf = (vmim: VirtualMachineInstanceMigration): string[] => (vmim.status?.phaseTransitionTimestamps ?? []).map((p) => p.phase ?? '');

async function waitForPhase(name: string, phase: string, ms = 60_000): Promise<VirtualMachineInstanceMigration> {
  const seen = await eventually(`${name} to reach ${phase}`, async () => {
    const vmim = await getMigration(system, name);
    const now = vmim?.status?.phase;
    if (now !== phase && (now === 'Succeeded' || now === 'Failed')) throw new Error(`${name} ended ${now}: ${vmim?.status?.migrationState?.failureReason ?? ''}`);
    return now === phase ? vmim : undefined;
  }, ms, 50);
  if (phase === 'Running' || phase === 'Succeeded' || phase === 'Failed') await expectVmiAgrees(system, seen);
  return seen;
}

/** Deletes the VMIM and returns the final version the reconciler wrote before releasing it. */
async function cancel(name: string, ms?: number): Promise<VirtualMachineInstanceMigration> {
  await deleteMigration(system, name);
  const final = await recorder.finalBeforeGone(name, ms);
  await expectVmiAgrees(system, final);
  expect(await getMigration(system, name)).toBeUndefined();
  return final;
}

describe('cancel (deleting the VMIM) before Running', () => {
  // Pending is not held: the reconciler writes Pending and Scheduling in one write.
  it('in Scheduling (no eligible target yet): Failed at once, abort Succeeded, the VMIM released', async () => {
    await createRunningVmi(system, 'vm-c-sched', { node: node(0), nodeSelector: { zone: 'nowhere' } });
    await createMigration(system, 'c-sched', 'vm-c-sched');
    await eventually('c-sched waiting with NoEligibleNode', async () => {
      const vmim = await getMigration(system, 'c-sched');
      const admitted = vmim?.status?.conditions?.find((c) => c.type === 'Admitted');
      return vmim?.status?.phase === 'Scheduling' && admitted?.status === 'False' && admitted.reason === 'NoEligibleNode' ? true : undefined;
    }, 30_000, 50);
    const final = await cancel('c-sched');
    expect(final.status?.phase).toBe('Failed');
    expect(final.status?.migrationState).toMatchObject({ abortRequested: true, abortStatus: 'Succeeded', failureReason: 'Aborted: cancelled in phase Scheduling' });
    expect(phasesOf(final)).not.toContain('Scheduled');
    const vmi = await getVmi(system, 'vm-c-sched');
    expect(vmi.status?.nodeName).toBe(node(0));
    expect(vmi.status?.migrationState?.migrationUid).not.toBe(final.metadata.uid);
  });

  it('in PreparingTarget (the target agent does not answer): Failed at once, abort Succeeded, the VMIM released', async () => {
    const ghost = `${node(0)}-ghost-pt`;
    const removeGhost = await createGhostNode(system, ghost, { zone: 'ghost-pt' });
    try {
      await createRunningVmi(system, 'vm-c-prep', { node: node(0) });
      await createMigration(system, 'c-prep', 'vm-c-prep', { addedNodeSelector: { zone: 'ghost-pt' }, migrationConfiguration: { targetReadyTimeout: 120 } });
      const preparing = await waitForPhase('c-prep', 'PreparingTarget');
      expect(preparing.status?.migrationState?.targetNode).toBe(ghost);
      const final = await cancel('c-prep');
      expect(final.status?.phase).toBe('Failed');
      expect(final.status?.migrationState).toMatchObject({ abortRequested: true, abortStatus: 'Succeeded', failureReason: 'Aborted: cancelled in phase PreparingTarget', targetNode: ghost });
      expect(phasesOf(final)).not.toContain('TargetReady');
      expect((await getVmi(system, 'vm-c-prep')).status?.nodeName).toBe(node(0));
    } finally {
      await removeGhost();
    }
  });

  it('in TargetReady with the source agent unreachable: the abort cannot be confirmed, Failed with abort Failed after targetReadyTimeout', async () => {
    const ghost = `${node(0)}-ghost-src1`;
    const removeGhost = await createGhostNode(system, ghost, { zone: 'ghost-src1' });
    try {
      await createRunningVmi(system, 'vm-c-ready', { node: ghost });
      // 15 s: long enough to delete while TargetReady, short enough for the abort to end.
      await createMigration(system, 'c-ready', 'vm-c-ready', { addedNodeSelector: { zone: 'z2' }, migrationConfiguration: { targetReadyTimeout: 15 } });
      const ready = await waitForPhase('c-ready', 'TargetReady');
      expect(ready.status?.migrationState?.targetNode).toBe(node(2));
      const final = await cancel('c-ready', 90_000);
      expect(final.status?.phase).toBe('Failed');
      expect(final.status?.migrationState).toMatchObject({ abortRequested: true, abortStatus: 'Failed' });
      expect(final.status?.migrationState?.failureReason).toMatch(new RegExp(`^AgentUnreachable: abort not confirmed: agent on ${ghost} did not answer for 15s`));
      expect(phasesOf(final)).not.toContain('Running');
      const vmi = await getVmi(system, 'vm-c-ready');
      expect(vmi.status?.nodeName).toBe(ghost);
      expect(vmi.status?.migrationState).toMatchObject({ migrationUid: final.metadata.uid, abortStatus: 'Failed', failed: true });
    } finally {
      await removeGhost();
    }
  });
});

describe('waiting-phase timeouts', () => {
  it('no node matches the VMI\'s nodeSelector: Failed with Unschedulable after unschedulableTimeout, the VMI on its source', async () => {
    await createRunningVmi(system, 'vm-unsched', { node: node(1), nodeSelector: { zone: 'nowhere' } });
    await createMigration(system, 'unsched', 'vm-unsched', { migrationConfiguration: { unschedulableTimeout: 3 } });
    const failed = await waitForPhase('unsched', 'Failed');
    expect(failed.status?.migrationState?.failureReason).toMatch(/^Unschedulable: no eligible target node for 3s/);
    expect(failed.status?.migrationState?.abortRequested).toBeFalsy();
    expect(phasesOf(failed)).not.toContain('Scheduled');
    expect((await getVmi(system, 'vm-unsched')).status?.nodeName).toBe(node(1));
  });

  it('the target agent never answers: Failed with TargetNotReady after targetReadyTimeout, the VMI on its source', async () => {
    const ghost = `${node(1)}-ghost-tnr`;
    const removeGhost = await createGhostNode(system, ghost, { zone: 'ghost-tnr' });
    try {
      await createRunningVmi(system, 'vm-tnr', { node: node(1) });
      await createMigration(system, 'tnr', 'vm-tnr', { addedNodeSelector: { zone: 'ghost-tnr' }, migrationConfiguration: { targetReadyTimeout: 3 } });
      const failed = await waitForPhase('tnr', 'Failed');
      expect(failed.status?.migrationState?.failureReason).toMatch(/^TargetNotReady: target not ready within 3s/);
      expect(failed.status?.migrationState?.targetNode).toBe(ghost);
      expect((await getVmi(system, 'vm-tnr')).status?.nodeName).toBe(node(1));
    } finally {
      await removeGhost();
    }
  });

  it('the source agent is unreachable in TargetReady: Failed with AgentUnreachable, the VMI on its source and told so', async () => {
    const ghost = `${node(1)}-ghost-src2`;
    const removeGhost = await createGhostNode(system, ghost, { zone: 'ghost-src2' });
    try {
      await createRunningVmi(system, 'vm-unreach', { node: ghost });
      await createMigration(system, 'unreach', 'vm-unreach', { addedNodeSelector: { zone: 'z2' }, migrationConfiguration: { targetReadyTimeout: 3 } });
      const failed = await waitForPhase('unreach', 'Failed');
      expect(failed.status?.migrationState?.failureReason).toMatch(/^AgentUnreachable: /);
      expect(failed.status?.migrationState?.failureReason).toContain('3s');
      expect(phasesOf(failed)).toContain('TargetReady');
      expect(phasesOf(failed)).not.toContain('Running');
      const vmi = await getVmi(system, 'vm-unreach');
      expect(vmi.status?.nodeName).toBe(ghost);
      expect(vmi.status?.migrationState).toMatchObject({ migrationUid: failed.metadata.uid, failed: true, completed: true });
    } finally {
      await removeGhost();
    }
  });
});

describe('outcomes decided on the nodes', () => {
  it('the target refuses to prepare: Failed with TargetFailed at once, the VMI on its source and its record untouched', async () => {
    const source = node(0);
    await createRunningVmi(system, 'vm-refused', { node: source, annotations: { [REFUSE_TARGET_ANNOTATION]: 'no room for the guest' } });
    const before = (await getVmi(system, 'vm-refused')).status?.migrationState;
    await createMigration(system, 'refused', 'vm-refused');
    const failed = await waitForPhase('refused', 'Failed');
    expect(failed.status?.migrationState?.failureReason).toMatch(/^TargetFailed: the target agent refused: .*cannot host the guest: no room for the guest/);
    expect(phasesOf(failed)).not.toContain('Running');
    const vmi = await getVmi(system, 'vm-refused');
    expect(vmi.status?.nodeName).toBe(source);
    // It never reached the hand-off: the VMI keeps the record it had.
    expect(vmi.status?.migrationState).toEqual(before);
  });

  it('completed before the abort arrived: cancel while Running, the source answers completed-first, Succeeded with abort Failed, the VMI on its target', async () => {
    const source = node(1);
    await createRunningVmi(system, 'vm-late-abort', { node: source, memory: '1Gi', annotations: { [ABORT_ARRIVES_LATE_ANNOTATION]: 'true' } });
    await createMigration(system, 'late-abort', 'vm-late-abort');
    const running = await waitForPhase('late-abort', 'Running');
    const final = await cancel('late-abort');
    expect(final.status?.phase).toBe('Succeeded');
    expect(final.status?.migrationState).toMatchObject({ abortRequested: true, abortStatus: 'Failed', completed: true, failed: false });
    const vmi = await getVmi(system, 'vm-late-abort');
    expect(vmi.status?.nodeName).toBe(running.status?.migrationState?.targetNode);
    expect(vmi.status?.nodeName).not.toBe(source);
    expect(vmi.status?.migrationState).toMatchObject({ migrationUid: final.metadata.uid, completed: true, abortStatus: 'Failed' });
  });
});

describe('an agent that goes away', () => {
  it('the source agent is killed while Running: Failed with AgentUnreachable after targetReadyTimeout, the VMI on its source', async () => {
    const source = node(4);
    await createRunningVmi(system, 'vm-gone', { node: source, memory: '1Gi', nodeSelector: { zone: 'z5' } });
    await createMigration(system, 'gone', 'vm-gone', { migrationConfiguration: { targetReadyTimeout: 3 } });
    await waitForPhase('gone', 'Running');
    // SIGKILL: no clean shutdown, so the agent's Lease stays fresh and only its silence tells.
    const agent = system.state.processes.find((p) => p.name === 'agent-1');
    if (!agent) throw new Error(`no agent-1 process among ${system.state.processes.map((p) => p.name).join(', ')}`);
    await stopComponent(agent, 'SIGKILL');
    system.state.processes = system.state.processes.filter((p) => p !== agent);
    const failed = await waitForPhase('gone', 'Failed');
    expect(failed.status?.migrationState?.failureReason).toMatch(new RegExp(`^AgentUnreachable: agent on ${source} did not answer for 3s; the outcome on the node is unknown`));
    expect(phasesOf(failed)).toContain('Running');
    const vmi = await getVmi(system, 'vm-gone');
    expect(vmi.status?.nodeName).toBe(source);
    expect(vmi.status?.migrationState).toMatchObject({ migrationUid: failed.metadata.uid, failed: true });
  });
});

describe('the inbound limit', () => {
  it('is reached and holds: one migration Running into the node while another waits with InboundLimit, never two at once', async () => {
    const target = node(3);
    const names = ['in-1', 'in-2', 'in-3'];
    for (const [i, name] of names.entries()) {
      await createRunningVmi(system, `vm-${name}`, { node: node(i % 2), memory: '256Mi', nodeSelector: { zone: 'z3' } });
    }
    for (const name of names) await createMigration(system, name, `vm-${name}`);
    const held = await eventually('one Running into the target while another waits for the inbound limit', async () => {
      const mine = (await listMigrations(system)).filter((m) => names.includes(m.metadata.name ?? ''));
      const running = mine.find((m) => m.status?.phase === 'Running' && m.status.migrationState?.targetNode === target);
      const waiting = mine.find((m) => m.status?.phase === 'Scheduling' && m.status.conditions?.some((c) => c.type === 'Admitted' && c.status === 'False' && c.reason === 'InboundLimit'));
      return running && waiting ? { running, waiting } : undefined;
    }, 60_000, 100);
    await expectVmiAgrees(system, held.running);
    expect(held.waiting.status?.conditions?.find((c) => c.type === 'Admitted')?.message).toContain(target);
    const done: VirtualMachineInstanceMigration[] = [];
    for (const name of names) {
      const succeeded = await waitForPhase(name, 'Succeeded', 120_000);
      expect(succeeded.status?.migrationState?.targetNode).toBe(target);
      expect((await getVmi(system, `vm-${name}`)).status?.nodeName).toBe(target);
      done.push(succeeded);
    }
    expect(slotPeaks(done).inbound).toBe(1);
  });
});
