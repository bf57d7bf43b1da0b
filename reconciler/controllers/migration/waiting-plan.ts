// Why a queued migration waits — the `Admitted=False` condition — and when a wait has lasted too
// long, as a pure decision over the condition already written and the reason found by this pass.
//
// Two waits run a clock (their condition's lastTransitionTime is when the clock started), bounded by
// unschedulableTimeout: waiting for the VMI (VMINotRunning, VMINotEvaluated: one clock, a VMI that
// starts and is then evaluated does not get the timeout twice) and waiting for an eligible node
// (NoEligibleNode). Waiting for a slot under the limits (ClusterLimit, OutboundLimit, InboundLimit,
// VmiBusy) is queueing, bounded by the migrations ahead; it runs no clock, and flips between those
// reasons are not written (in a burst that would cost a write per migration per pass).
import type { Condition } from '../../../api/schemas/migration-state.js';
import type { FailureReason } from '../../failure-reasons.js';
import { waitingDecision } from '../../timeouts/policy.js';

/** Why a migration in Scheduling waits; its lastTransitionTime is when that wait began. */
export const WAITING_CONDITION = 'Admitted';

export interface Hold {
  reason: string;
  message: string;
}

export type HoldPlan =
  /** Write this condition (a new wait, or a new reason within a clocked wait, its clock kept). */
  | { action: 'write'; condition: Condition }
  /** The wait has lasted unschedulableTimeout: fail the migration. */
  | { action: 'fail'; reason: FailureReason; message: string }
  /** Nothing to write; look again in `dueInMs` if a clock runs. */
  | { action: 'wait'; dueInMs?: number };

type Clock = 'vmi' | 'node';

function clockOf(reason: string | undefined): Clock | undefined {
  if (reason === 'VMINotRunning' || reason === 'VMINotEvaluated') return 'vmi';
  if (reason === 'NoEligibleNode') return 'node';
  return undefined;
}

export function waitingCondition(hold: Hold, at: string): Condition {
  return { type: WAITING_CONDITION, status: 'False', reason: hold.reason, message: hold.message, lastTransitionTime: at };
}

export function planHold(
  current: Condition | undefined,
  hold: Hold,
  nowMs: number,
  timeouts: { unschedulableTimeout: number; targetReadyTimeout: number },
): HoldPlan {
  const nowIso = new Date(nowMs).toISOString();
  const clock = clockOf(hold.reason);
  if (!current || current.status !== 'False' || clockOf(current.reason) !== clock) {
    return { action: 'write', condition: waitingCondition(hold, nowIso) };
  }
  if (clock === undefined) return { action: 'wait' };
  const parsed = current.lastTransitionTime ? Date.parse(current.lastTransitionTime) : NaN;
  const since = Number.isNaN(parsed) ? nowMs : parsed;
  const decision = waitingDecision({
    phase: 'Scheduling',
    nowMs,
    waitingSinceMs: since,
    ...(clock === 'node' ? { noEligibleTargetSinceMs: since } : { vmiNotReadySinceMs: since }),
    ...timeouts,
  });
  if (decision.action === 'abort') return { action: 'fail', reason: decision.reason, message: `${decision.message}: ${hold.message}` };
  if (current.reason !== hold.reason || current.message !== hold.message) {
    return { action: 'write', condition: waitingCondition(hold, current.lastTransitionTime ?? nowIso) };
  }
  return { action: 'wait', dueInMs: since + timeouts.unschedulableTimeout * 1000 - nowMs };
}
