// The two clocks a migration runs on between reconciles, kept in the VMIM's status so a restarted,
// crash-looping or newly elected reconciler resumes them instead of starting them over (which
// would let it extend a stuck migration forever):
// - agent silence: condition `AgentResponsive=False`, its lastTransitionTime the first unanswered
//   call since the last answer;
// - progress: the low-water mark of data remaining and when it last went down, in
//   `status.progress` (`lowestDataRemainingBytes`, `lastProgressAt`), published with the block.
// Pure functions over a status; the executor writes what they return.
import type { Condition } from '../../../api/schemas/migration-state.js';
import type { MigrationStatus } from '../../phases.js';
import type { ProgressTracker } from '../../timeouts/policy.js';

export const AGENT_RESPONSIVE_CONDITION = 'AgentResponsive';
/** False from the first time the source said the guest left and the target did not confirm it. */
export const ARRIVAL_CONDITION = 'TargetDomainDetected';

function parseMs(stamp: string | null | undefined): number | undefined {
  const ms = stamp ? Date.parse(stamp) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

/** Since when the agent this migration waits on has not answered, if it is silent now. */
export function agentSilentSince(status: MigrationStatus | undefined): number | undefined {
  const condition = status?.conditions?.find((c) => c.type === AGENT_RESPONSIVE_CONDITION);
  if (condition?.status !== 'False') return undefined;
  return parseMs(condition.lastTransitionTime);
}

function withCondition(status: MigrationStatus, condition: Condition): MigrationStatus {
  const others = (status.conditions ?? []).filter((c) => c.type !== condition.type);
  return { ...status, conditions: [...others, condition] };
}

/**
 * The status after an agent call: silence starts at the first failed call and ends at the next
 * answer. Undefined when nothing changes (a second failed call, or an answer with no silence).
 */
export function afterAgentCall(status: MigrationStatus, answered: boolean, node: string | undefined, nowIso: string, error?: string): MigrationStatus | undefined {
  const silent = agentSilentSince(status) !== undefined;
  if (answered) {
    if (!silent) return undefined;
    return withCondition(status, { type: AGENT_RESPONSIVE_CONDITION, status: 'True', reason: 'Answered', lastTransitionTime: nowIso });
  }
  if (silent) return undefined;
  return withCondition(status, {
    type: AGENT_RESPONSIVE_CONDITION,
    status: 'False',
    reason: 'NoAnswer',
    message: `${node ? `agent on ${node}` : 'node agent'}: ${error ?? 'no answer'}`,
    lastTransitionTime: nowIso,
  });
}

/** Since when the target has not confirmed a guest the source says it sent, if it is waiting. */
export function arrivalWaitingSince(status: MigrationStatus | undefined): number | undefined {
  const condition = status?.conditions?.find((c) => c.type === ARRIVAL_CONDITION);
  return condition?.status === 'False' ? parseMs(condition.lastTransitionTime) : undefined;
}

/** The status once the target did not confirm arrival: the wait starts now unless it already ran. */
export function afterArrivalUnconfirmed(status: MigrationStatus, nowIso: string, detail: string): MigrationStatus | undefined {
  if (arrivalWaitingSince(status) !== undefined) return undefined;
  return withCondition(status, { type: ARRIVAL_CONDITION, status: 'False', reason: 'NotDetected', message: detail, lastTransitionTime: nowIso });
}

/**
 * The status once the target confirmed the guest runs there: KubeVirt's
 * `targetNodeDomainReadyTimestamp` (the first confirmation only), and an arrival wait, if one ran,
 * ended.
 */
export function afterArrivalConfirmed(status: MigrationStatus, nowIso: string): MigrationStatus {
  const readyAt = status.migrationState?.targetNodeDomainReadyTimestamp ?? nowIso;
  const next: MigrationStatus = { ...status, migrationState: { ...status.migrationState, targetNodeDomainReadyTimestamp: readyAt } };
  if (arrivalWaitingSince(status) === undefined) return next;
  return withCondition(next, { type: ARRIVAL_CONDITION, status: 'True', reason: 'Detected', message: 'the target runs the domain', lastTransitionTime: readyAt });
}

/**
 * The progress tracker a reconcile resumes from: the published mark, or the start of Running when
 * nothing was published yet. Never "now": a restart must not open a fresh window.
 */
export function progressTrackerFrom(status: MigrationStatus, nowMs: number): ProgressTracker {
  const published = parseMs(status.progress?.lastProgressAt);
  const started = parseMs(status.migrationState?.startTimestamp);
  return {
    lowestRemainingBytes: status.progress?.lowestDataRemainingBytes,
    lastProgressAtMs: published ?? started ?? nowMs,
  };
}

/**
 * Of two trackers for one migration (this process's memory and the published one), the one that
 * knows more: the lower mark; for the same mark, the earlier time (it was reached then).
 */
export function fresherTracker(a: ProgressTracker, b: ProgressTracker | undefined): ProgressTracker {
  if (b === undefined) return a;
  const lowA = a.lowestRemainingBytes ?? Number.POSITIVE_INFINITY;
  const lowB = b.lowestRemainingBytes ?? Number.POSITIVE_INFINITY;
  if (lowA !== lowB) return lowA < lowB ? a : b;
  return a.lastProgressAtMs <= b.lastProgressAtMs ? a : b;
}
