import { describe, expect, it } from '@jest/globals';
import { MIGRATION_PHASES, type MigrationPhase } from '../api/schemas/vmim.js';
import {
  applyPhase,
  canTransition,
  finishAbort,
  requestAbort,
  type MigrationStatus,
  type PhaseChange,
} from './phases.js';

const T = (s: number) => `2026-01-01T00:00:${String(s).padStart(2, '0')}Z`;

const HAPPY_PATH: PhaseChange[] = [
  { phase: 'Pending', migrationUid: 'uid-1', sourceNode: 'node02', migrationConfiguration: { completionTimeoutPerGiB: 800, progressTimeout: 150 } },
  { phase: 'Scheduling' },
  { phase: 'Scheduled', targetNode: 'node01' },
  { phase: 'PreparingTarget' },
  { phase: 'TargetReady', targetNodeAddress: '10.128.0.46', targetDirectMigrationNodePorts: { '35001': 0, '41068': 49152 }, targetPod: 'agent-node01' },
  { phase: 'Running' },
];

function runTo(changes: PhaseChange[]): MigrationStatus {
  let status: MigrationStatus | undefined;
  changes.forEach((change, i) => {
    const result = applyPhase(status, change, T(i));
    if (!result.ok) throw new Error(result.error);
    status = result.status;
  });
  return status ?? {};
}

function mustApply(status: MigrationStatus, change: PhaseChange, now: string): MigrationStatus {
  const result = applyPhase(status, change, now);
  if (!result.ok) throw new Error(result.error);
  return result.status;
}

describe('canTransition', () => {
  it('allows exactly one step forward, or Failed from any non-final phase', () => {
    const allowed: string[] = [];
    for (const from of [undefined, ...MIGRATION_PHASES]) {
      for (const to of MIGRATION_PHASES) if (canTransition(from, to)) allowed.push(`${from ?? '-'}→${to}`);
    }
    expect(allowed).toEqual([
      '-→Pending',
      'Pending→Scheduling', 'Pending→Failed',
      'Scheduling→Scheduled', 'Scheduling→Failed',
      'Scheduled→PreparingTarget', 'Scheduled→Failed',
      'PreparingTarget→TargetReady', 'PreparingTarget→Failed',
      'TargetReady→Running', 'TargetReady→Failed',
      'Running→Succeeded', 'Running→Failed',
    ]);
  });
});

describe('applyPhase', () => {
  it('a successful run fills every migrationState field the seed shows', () => {
    const done = mustApply(runTo(HAPPY_PATH), { phase: 'Succeeded' }, T(9));
    expect(done.phase).toBe('Succeeded');
    expect(done.migrationState).toEqual({
      migrationUid: 'uid-1',
      sourceNode: 'node02',
      targetNode: 'node01',
      targetNodeAddress: '10.128.0.46',
      targetDirectMigrationNodePorts: { '35001': 0, '41068': 49152 },
      targetPod: 'agent-node01',
      targetNodeDomainDetected: true,
      startTimestamp: T(5),
      endTimestamp: T(9),
      completed: true,
      failed: false,
      mode: 'PreCopy',
      migrationConfiguration: { completionTimeoutPerGiB: 800, progressTimeout: 150 },
    });
    expect(done.phaseTransitionTimestamps?.map((p) => p.phase)).toEqual([...MIGRATION_PHASES.slice(0, 7)]);
  });

  it('re-applying the current phase changes nothing (restart-safe reconciles)', () => {
    const scheduled = runTo(HAPPY_PATH.slice(0, 3));
    const again = applyPhase(scheduled, { phase: 'Scheduled', targetNode: 'node03' }, T(30));
    expect(again).toEqual({ ok: true, status: scheduled, changed: false });
  });

  it('refuses skipping a phase and leaving a final phase', () => {
    const pending = runTo(HAPPY_PATH.slice(0, 1));
    expect(applyPhase(pending, { phase: 'Running' }, T(1))).toEqual({ ok: false, error: 'cannot go from Pending to Running' });
    const failed = mustApply(pending, { phase: 'Failed', reason: 'Unschedulable', message: 'no node' }, T(2));
    expect(applyPhase(failed, { phase: 'Scheduling' }, T(3)).ok).toBe(false);
  });

  it('Failed records the typed reason, completed and failed, and keeps where it got to', () => {
    const failed = mustApply(runTo(HAPPY_PATH), { phase: 'Failed', reason: 'ProgressTimeout', message: 'no progress for 150s' }, T(40));
    expect(failed.migrationState).toMatchObject({
      completed: true,
      failed: true,
      endTimestamp: T(40),
      failureReason: 'ProgressTimeout: no progress for 150s',
      targetNode: 'node01',
      startTimestamp: T(5),
    });
  });

  it('does not mutate its input', () => {
    const pending = runTo(HAPPY_PATH.slice(0, 1));
    const snapshot = JSON.stringify(pending);
    applyPhase(pending, { phase: 'Scheduling' }, T(1));
    expect(JSON.stringify(pending)).toBe(snapshot);
  });
});

describe('cancel (VMIM deleted)', () => {
  it.each<MigrationPhase>(['Pending', 'Scheduling', 'Scheduled', 'PreparingTarget'])(
    'before a start could be sent (%s) fails at once as the seed describes',
    (phase) => {
      const index = HAPPY_PATH.findIndex((c) => c.phase === phase);
      const plan = requestAbort(runTo(HAPPY_PATH.slice(0, index + 1)), T(50));
      expect(plan.kind).toBe('failed-now');
      expect(plan.status.phase).toBe('Failed');
      expect(plan.status.migrationState).toMatchObject({
        abortRequested: true,
        abortStatus: 'Succeeded',
        completed: true,
        failed: true,
        endTimestamp: T(50),
        failureReason: `Aborted: cancelled in phase ${phase}`,
      });
      expect(plan.kind === 'failed-now' && plan.releaseTarget).toBe(index >= 2);
      expect(plan.status.conditions).toEqual([{ type: 'migrationAbortRequested', status: 'True', lastTransitionTime: T(50) }]);
    },
  );

  it('in TargetReady the source is asked to abort (a start may have reached it), and "completed first" ends Succeeded', () => {
    const ready = runTo(HAPPY_PATH.slice(0, HAPPY_PATH.findIndex((c) => c.phase === 'TargetReady') + 1));
    const plan = requestAbort(ready, T(50));
    expect(plan.kind).toBe('await-agent');
    expect(plan.status.migrationState?.abortStatus).toBe('Aborting');
    const aborted = finishAbort(plan.status, { result: 'aborted' }, T(51));
    expect(aborted.ok && aborted.status.phase).toBe('Failed');
    const moved = finishAbort(plan.status, { result: 'completed-first' }, T(51));
    expect(moved.ok && moved.status.phase).toBe('Succeeded');
    expect(moved.ok && moved.status.migrationState).toMatchObject({ abortStatus: 'Failed', completed: true, failed: false, targetNodeDomainDetected: true });
    expect(moved.ok && moved.status.phaseTransitionTimestamps?.map((p) => p.phase)).toContain('Running');
  });

  it('a VMIM deleted before the reconciler wrote any phase still ends Failed', () => {
    const plan = requestAbort(undefined, T(1));
    expect(plan.kind).toBe('failed-now');
    expect(plan.status.phase).toBe('Failed');
    expect(plan.status.migrationState?.abortStatus).toBe('Succeeded');
  });

  it('while Running waits for the source agent with abortStatus Aborting, idempotently', () => {
    const running = runTo(HAPPY_PATH);
    const plan = requestAbort(running, T(60));
    expect(plan.kind).toBe('await-agent');
    expect(plan.status.phase).toBe('Running');
    expect(plan.status.migrationState).toMatchObject({ abortRequested: true, abortStatus: 'Aborting' });
    expect(requestAbort(plan.status, T(61))).toEqual(plan);
  });

  it('the agent confirms the abort: Failed, abortStatus Succeeded, completed and failed', () => {
    const aborting = requestAbort(runTo(HAPPY_PATH), T(60)).status;
    const result = finishAbort(aborting, { result: 'aborted' }, T(62));
    expect(result.ok && result.status.phase).toBe('Failed');
    expect(result.ok && result.status.migrationState).toMatchObject({
      abortRequested: true,
      abortStatus: 'Succeeded',
      completed: true,
      failed: true,
      endTimestamp: T(62),
    });
  });

  it('switch-over won the race: Succeeded with abortStatus Failed', () => {
    const aborting = requestAbort(runTo(HAPPY_PATH), T(60)).status;
    const result = finishAbort(aborting, { result: 'completed-first' }, T(62));
    expect(result.ok && result.status.phase).toBe('Succeeded');
    expect(result.ok && result.status.migrationState).toMatchObject({ abortStatus: 'Failed', completed: true, failed: false });
  });

  it('agent gone: Failed with abortStatus Failed and the reason', () => {
    const aborting = requestAbort(runTo(HAPPY_PATH), T(60)).status;
    const result = finishAbort(aborting, { result: 'failed', reason: 'AgentUnreachable', message: 'node02 agent did not answer for 300s' }, T(59));
    expect(result.ok && result.status.migrationState).toMatchObject({
      abortStatus: 'Failed',
      failed: true,
      failureReason: 'AgentUnreachable: node02 agent did not answer for 300s',
    });
  });

  it('after the end there is nothing to abort', () => {
    const done = mustApply(runTo(HAPPY_PATH), { phase: 'Succeeded' }, T(9));
    expect(requestAbort(done, T(10))).toEqual({ kind: 'already-final', status: done });
  });
});
