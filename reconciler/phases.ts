// The migration phase machine as pure functions over a VMIM status: which transitions are allowed,
// what each transition writes (phaseTransitionTimestamps and the `migrationState` fields KubeVirt
// users know), and what deleting a VMIM (cancel) does in each phase.
//
// Choices where the issue is silent:
// - Transitions move one phase forward at a time, or to Failed from any non-final phase. Applying
//   the phase a status already has is a no-op (`changed: false`), so a reconcile that repeats after
//   a crash or a stale cache read writes nothing new.
// - `Pending` is the first write by the reconciler: it fixes the migration UID, the source node and
//   the resolved configuration the migration runs under. `startTimestamp` is set on Running (when
//   data starts to move), `endTimestamp` on Succeeded or Failed.
// - `failureReason` is "<TypedReason>: <message>".
// - Cancel before TargetReady fails at once (abortStatus Succeeded: no start was ever sent, the VM
//   never left its source). Cancel in TargetReady or Running sets abortStatus Aborting and waits for
//   the source agent (a start may have reached it even if its answer was lost). If the switch-over won the race, the migration is Succeeded with abortStatus Failed,
//   like KubeVirt. If the agent cannot abort or is gone, it is Failed with abortStatus Failed.
import type { AbortStatus, Condition, MigrationMode, MigrationState } from '../api/schemas/migration-state.js';
import type { MigrationConfiguration } from '../api/schemas/migration-config.js';
import {
  FINAL_MIGRATION_PHASES,
  MIGRATION_PHASES,
  type MigrationPhase,
  type VirtualMachineInstanceMigration,
} from '../api/schemas/vmim.js';
import { FailureReason, formatFailureReason } from './failure-reasons.js';

export type MigrationStatus = NonNullable<VirtualMachineInstanceMigration['status']>;

export const ABORT_REQUESTED_CONDITION = 'migrationAbortRequested';

/** Phases in which the migration holds its place in the limits (a slot); see limits/slots.ts. */
export const SLOT_HOLDING_PHASES: readonly MigrationPhase[] = ['Scheduled', 'PreparingTarget', 'TargetReady', 'Running'];

export function isFinal(phase: MigrationPhase | undefined): boolean {
  return phase !== undefined && FINAL_MIGRATION_PHASES.includes(phase);
}

/** Allowed: no phase → Pending; one step forward along MIGRATION_PHASES; any non-final → Failed. */
export function canTransition(from: MigrationPhase | undefined, to: MigrationPhase): boolean {
  if (from === undefined) return to === 'Pending';
  if (isFinal(from)) return false;
  if (to === 'Failed') return true;
  return MIGRATION_PHASES.indexOf(to) === MIGRATION_PHASES.indexOf(from) + 1;
}

export type PhaseChange =
  | {
      phase: 'Pending';
      migrationUid: string;
      sourceNode: string;
      migrationConfiguration: Partial<MigrationConfiguration>;
      migrationPolicyName?: string;
    }
  | { phase: 'Scheduling' }
  /** `sourceNode` when it was not known at Pending (the VMI was not running yet). */
  | { phase: 'Scheduled'; targetNode: string; sourceNode?: string }
  | { phase: 'PreparingTarget' }
  | {
      phase: 'TargetReady';
      targetNodeAddress: string;
      targetDirectMigrationNodePorts: Record<string, number>;
      targetPod: string;
    }
  | { phase: 'Running'; mode?: MigrationMode }
  | { phase: 'Succeeded' }
  | { phase: 'Failed'; reason: FailureReason; message: string };

export type TransitionResult =
  | { ok: true; status: MigrationStatus; changed: boolean }
  | { ok: false; error: string };

function stateFor(change: PhaseChange, now: string): MigrationState {
  switch (change.phase) {
    case 'Pending':
      return {
        migrationUid: change.migrationUid,
        sourceNode: change.sourceNode,
        migrationConfiguration: change.migrationConfiguration,
        ...(change.migrationPolicyName ? { migrationPolicyName: change.migrationPolicyName } : {}),
        completed: false,
        failed: false,
      };
    case 'Scheduled':
      return { targetNode: change.targetNode, ...(change.sourceNode ? { sourceNode: change.sourceNode } : {}) };
    case 'TargetReady':
      return {
        targetNodeAddress: change.targetNodeAddress,
        targetDirectMigrationNodePorts: change.targetDirectMigrationNodePorts,
        targetPod: change.targetPod,
      };
    case 'Running':
      return { startTimestamp: now, mode: change.mode ?? 'PreCopy' };
    case 'Succeeded':
      return { targetNodeDomainDetected: true, completed: true, failed: false, endTimestamp: now };
    case 'Failed':
      return {
        completed: true,
        failed: true,
        endTimestamp: now,
        failureReason: formatFailureReason(change.reason, change.message),
      };
    case 'Scheduling':
    case 'PreparingTarget':
      return {};
  }
}

function withPhase(status: MigrationStatus, phase: MigrationPhase, now: string): MigrationStatus {
  const stamps = status.phaseTransitionTimestamps ?? [];
  const reached = stamps.some((s) => s.phase === phase);
  return {
    ...status,
    phase,
    phaseTransitionTimestamps: reached ? stamps : [...stamps, { phase, phaseTransitionTimestamp: now }],
  };
}

/** Applies a phase change; `now` is an RFC 3339 timestamp. Never mutates its input. */
export function applyPhase(status: MigrationStatus | undefined, change: PhaseChange, now: string): TransitionResult {
  const current = status ?? {};
  if (current.phase === change.phase) return { ok: true, status: current, changed: false };
  if (!canTransition(current.phase, change.phase)) {
    return { ok: false, error: `cannot go from ${current.phase ?? 'no phase'} to ${change.phase}` };
  }
  const next = withPhase(current, change.phase, now);
  next.migrationState = { ...current.migrationState, ...stateFor(change, now) };
  return { ok: true, status: next, changed: true };
}

// ---- cancel ----

export type AbortPlan =
  /** Nothing to abort: the migration had already ended. The finalizer may go. */
  | { kind: 'already-final'; status: MigrationStatus }
  /** Failed at once; `releaseTarget` when a target node had been chosen and must be cleaned up. */
  | { kind: 'failed-now'; status: MigrationStatus; releaseTarget: boolean }
  /** Running: ask the source agent to abort, then call finishAbort with what it said. */
  | { kind: 'await-agent'; status: MigrationStatus };

function withAbortRequested(status: MigrationStatus, abortStatus: AbortStatus, now: string): MigrationStatus {
  const conditions: Condition[] = status.conditions ?? [];
  const already = conditions.some((c) => c.type === ABORT_REQUESTED_CONDITION);
  return {
    ...status,
    conditions: already
      ? conditions
      : [...conditions, { type: ABORT_REQUESTED_CONDITION, status: 'True', lastTransitionTime: now }],
    migrationState: { ...status.migrationState, abortRequested: true, abortStatus },
  };
}

/** What deleting the VMIM (the cancel request) does to its status. Idempotent. */
export function requestAbort(status: MigrationStatus | undefined, now: string): AbortPlan {
  const current = status ?? {};
  if (isFinal(current.phase)) return { kind: 'already-final', status: current };
  // From TargetReady on, a start may have reached the source (its answer lost, a crash between
  // call and write): the source must be told to abort, and may answer that it already finished.
  if (current.phase === 'Running' || current.phase === 'TargetReady') {
    if (current.migrationState?.abortStatus === 'Aborting') return { kind: 'await-agent', status: current };
    return { kind: 'await-agent', status: withAbortRequested(current, 'Aborting', now) };
  }
  const releaseTarget = current.migrationState?.targetNode !== undefined;
  // A VMIM deleted before the reconciler ever saw it has no phase: it goes straight to Failed.
  const base: MigrationStatus = current.phase === undefined ? withPhase(current, 'Pending', now) : current;
  const failed = applyPhase(
    base,
    { phase: 'Failed', reason: FailureReason.Aborted, message: `cancelled in phase ${current.phase ?? 'Pending'}` },
    now,
  );
  if (!failed.ok) throw new Error(`unreachable: ${failed.error}`);
  return { kind: 'failed-now', status: withAbortRequested(failed.status, 'Succeeded', now), releaseTarget };
}

export type AbortOutcome =
  /** The source agent stopped the migration; the VM runs on its source. */
  | { result: 'aborted' }
  /** The switch-over had already happened: the VM is on the target. */
  | { result: 'completed-first' }
  /** The abort could not be carried out or confirmed (agent error, agent gone). */
  | { result: 'failed'; reason: FailureReason; message: string };

/** Ends a Running migration whose abort was requested, from the source agent's answer. */
export function finishAbort(status: MigrationStatus, outcome: AbortOutcome, now: string): TransitionResult {
  if (isFinal(status.phase)) return { ok: true, status, changed: false };
  if ((status.phase !== 'Running' && status.phase !== 'TargetReady') || status.migrationState?.abortStatus !== 'Aborting') {
    return { ok: false, error: `no abort in progress (phase ${status.phase ?? 'none'})` };
  }
  switch (outcome.result) {
    case 'aborted': {
      const message = status.phase === 'TargetReady' ? 'cancelled in phase TargetReady' : 'cancelled while running';
      const failed = applyPhase(status, { phase: 'Failed', reason: FailureReason.Aborted, message }, now);
      return failed.ok ? { ...failed, status: withAbortRequested(failed.status, 'Succeeded', now) } : failed;
    }
    case 'completed-first': {
      const running = status.phase === 'TargetReady' ? applyPhase(status, { phase: 'Running' }, now) : { ok: true as const, status };
      if (!running.ok) return running;
      const succeeded = applyPhase(running.status, { phase: 'Succeeded' }, now);
      return succeeded.ok ? { ...succeeded, status: withAbortRequested(succeeded.status, 'Failed', now) } : succeeded;
    }
    case 'failed': {
      const failed = applyPhase(status, { phase: 'Failed', reason: outcome.reason, message: outcome.message }, now);
      return failed.ok ? { ...failed, status: withAbortRequested(failed.status, 'Failed', now) } : failed;
    }
  }
}
