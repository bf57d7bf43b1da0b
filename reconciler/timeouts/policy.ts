// Timeout policy: when a migration must be given up, as pure decisions over times in epoch ms.
// Every non-final phase has a bound, so no migration (and no finalizer) waits forever:
//
//   Scheduling       no eligible target for unschedulableTimeout        → Unschedulable
//                    VMI not Running + LiveMigratable for unschedulableTimeout → VmiNotReady
//                    (waiting for a free slot under the limits is queueing, not a failure: it is
//                    bounded by the migrations ahead, which are bounded themselves)
//   Scheduled,       target not ready targetReadyTimeout after the
//   PreparingTarget  target was chosen                                   → TargetNotReady
//   TargetReady      source did not start within targetReadyTimeout     → AgentUnreachable
//   Running          completion budget spent                            → CompletionTimeout
//                    data remaining not down for progressTimeout         → ProgressTimeout
//   Running+Aborting source agent did not confirm within targetReadyTimeout → AgentUnreachable
//   any agent call   no answer for targetReadyTimeout                    → AgentUnreachable
//
// Choices where the issue is silent:
// - Size is in binary GiB (2^30 bytes) rounded up, with at least 1 GiB. KubeVirt names the key "per
//   GiB" but divides by decimal GB (10^9); we follow the name, because users size guests in Gi
//   (`memory: 8Gi`) and then 8Gi is exactly 8 units — the seed's "8 GiB → 6400 s" holds, where
//   KubeVirt's arithmetic gives ceil(8.59) × 800 = 7200 s.
// - The completion budget runs from the Running phase (startTimestamp), when data starts to move.
// - Progress is measured against a low-water mark, as KubeVirt does: a sample shows progress only
//   when data remaining is below the lowest value seen so far. Comparing with the previous sample
//   instead would count every dip of a guest that dirties memory as fast as it is copied (remaining
//   rises at each pre-copy pass and falls within it) as progress, and it would never time out.
// - Deadlines are inclusive: at exactly N seconds without progress, the migration is aborted.
// - When two deadlines have passed, the one that passed first is reported.
import type { MigrationMethod } from '../../api/schemas/vmi.js';
import type { MigrationPhase } from '../../api/schemas/vmim.js';
import { FailureReason } from '../failure-reasons.js';

export const GIB = 2 ** 30;

export type Decision = { action: 'continue' } | { action: 'abort'; reason: FailureReason; message: string };

const CONTINUE: Decision = { action: 'continue' };

/** Bytes the migration copies: guest memory, plus local disks for BlockMigration. */
export function migrationSizeBytes(memoryBytes: number, method: MigrationMethod, localDiskBytes: number): number {
  return memoryBytes + (method === 'BlockMigration' ? localDiskBytes : 0);
}

/** completionTimeoutPerGiB × ceil(size / 2^30), in seconds; at least one GiB's worth. */
export function completionBudgetSeconds(completionTimeoutPerGiB: number, sizeBytes: number): number {
  return completionTimeoutPerGiB * Math.max(1, Math.ceil(sizeBytes / GIB));
}

// ---- progress ----

/** What the reconciler remembers between samples of one running migration. Plain data, so it can
 * be kept in memory or rebuilt after a restart (starting a fresh window, which only delays an abort). */
export interface ProgressTracker {
  /** Lowest data remaining seen so far; undefined before the first sample. */
  lowestRemainingBytes?: number;
  /** When data remaining last went below the low-water mark (or tracking started). */
  lastProgressAtMs: number;
}

export function startProgressTracking(atMs: number): ProgressTracker {
  return { lastProgressAtMs: atMs };
}

export interface ProgressSample {
  dataRemainingBytes: number;
  atMs: number;
}

export function trackProgress(tracker: ProgressTracker, sample: ProgressSample): ProgressTracker {
  const lowest = tracker.lowestRemainingBytes;
  if (lowest === undefined || sample.dataRemainingBytes < lowest) {
    return { lowestRemainingBytes: sample.dataRemainingBytes, lastProgressAtMs: Math.max(tracker.lastProgressAtMs, sample.atMs) };
  }
  return tracker;
}

export interface RunningFacts {
  startedAtMs: number;
  nowMs: number;
  sizeBytes: number;
  completionTimeoutPerGiB: number;
  progressTimeout: number;
  tracker: ProgressTracker;
}

interface Deadline {
  atMs: number;
  reason: FailureReason;
  message: string;
}

function firstPassed(deadlines: Deadline[], nowMs: number): Decision {
  const passed = deadlines.filter((d) => nowMs >= d.atMs).sort((a, b) => a.atMs - b.atMs)[0];
  return passed === undefined ? CONTINUE : { action: 'abort', reason: passed.reason, message: passed.message };
}

function gib(bytes: number): string {
  return `${Math.max(1, Math.ceil(bytes / GIB))} GiB`;
}

export function runningDecision(facts: RunningFacts): Decision {
  const budget = completionBudgetSeconds(facts.completionTimeoutPerGiB, facts.sizeBytes);
  return firstPassed(
    [
      {
        atMs: facts.startedAtMs + budget * 1000,
        reason: FailureReason.CompletionTimeout,
        message: `not completed within ${budget}s (${facts.completionTimeoutPerGiB}s per GiB × ${gib(facts.sizeBytes)})`,
      },
      {
        atMs: facts.tracker.lastProgressAtMs + facts.progressTimeout * 1000,
        reason: FailureReason.ProgressTimeout,
        message: `data remaining has not gone down for ${facts.progressTimeout}s` +
          (facts.tracker.lowestRemainingBytes === undefined ? ' (no progress reported)' : ` (lowest: ${facts.tracker.lowestRemainingBytes} bytes)`),
      },
    ],
    facts.nowMs,
  );
}

// ---- bounded waits before Running, and while aborting ----

export interface WaitFacts {
  phase: MigrationPhase;
  nowMs: number;
  /** When the current wait began: Scheduled for Scheduled/PreparingTarget, TargetReady for TargetReady. */
  waitingSinceMs: number;
  /** Scheduling only: since when no node has been eligible (undefined while one is, busy or not). */
  noEligibleTargetSinceMs?: number;
  /** Scheduling only: since when the VMI has not been Running and LiveMigratable (undefined while it is). */
  vmiNotReadySinceMs?: number;
  /** The first unanswered agent call since the last answer, if any. */
  agentSilentSinceMs?: number;
  /** Which node's agent, for the message. */
  agentNode?: string;
  unschedulableTimeout: number;
  targetReadyTimeout: number;
}

export function waitingDecision(facts: WaitFacts): Decision {
  const deadlines: Deadline[] = [];
  const readyBound = facts.targetReadyTimeout * 1000;
  if (facts.phase === 'Scheduling' && facts.noEligibleTargetSinceMs !== undefined) {
    deadlines.push({
      atMs: facts.noEligibleTargetSinceMs + facts.unschedulableTimeout * 1000,
      reason: FailureReason.Unschedulable,
      message: `no eligible target node for ${facts.unschedulableTimeout}s`,
    });
  }
  if (facts.phase === 'Scheduling' && facts.vmiNotReadySinceMs !== undefined) {
    deadlines.push({
      atMs: facts.vmiNotReadySinceMs + facts.unschedulableTimeout * 1000,
      reason: FailureReason.VmiNotReady,
      message: `the VMI was not running and live-migratable within ${facts.unschedulableTimeout}s`,
    });
  }
  if (facts.phase === 'Scheduled' || facts.phase === 'PreparingTarget') {
    deadlines.push({
      atMs: facts.waitingSinceMs + readyBound,
      reason: FailureReason.TargetNotReady,
      message: `target not ready within ${facts.targetReadyTimeout}s`,
    });
  }
  if (facts.phase === 'TargetReady') {
    deadlines.push({
      atMs: facts.waitingSinceMs + readyBound,
      reason: FailureReason.AgentUnreachable,
      message: `source agent did not start the migration within ${facts.targetReadyTimeout}s`,
    });
  }
  if (facts.agentSilentSinceMs !== undefined) deadlines.push(agentSilence(facts.agentSilentSinceMs, facts));
  return firstPassed(deadlines, facts.nowMs);
}

function agentSilence(sinceMs: number, facts: { targetReadyTimeout: number; agentNode?: string }): Deadline {
  return {
    atMs: sinceMs + facts.targetReadyTimeout * 1000,
    reason: FailureReason.AgentUnreachable,
    message: `${facts.agentNode ? `agent on ${facts.agentNode}` : 'node agent'} did not answer for ${facts.targetReadyTimeout}s`,
  };
}

export interface AbortingFacts {
  nowMs: number;
  abortRequestedAtMs: number;
  agentNode?: string;
  targetReadyTimeout: number;
}

/** A Running migration whose VMIM was deleted: how long to wait for the source agent's confirmation. */
export function abortingDecision(facts: AbortingFacts): Decision {
  const deadline = agentSilence(facts.abortRequestedAtMs, facts);
  return firstPassed(
    [{ ...deadline, message: `abort not confirmed: ${deadline.message}; the VM may still be migrating` }],
    facts.nowMs,
  );
}
