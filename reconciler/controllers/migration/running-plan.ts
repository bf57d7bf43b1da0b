// What to do with a Running migration, given the source agent's answer: a pure plan the dispatch
// executor carries out. Timeouts come from timeouts/policy.ts over the clocks kept in the status.
import type { MigrationJobStatus } from '../../../agent/contract.js';
import type { MigrationProgress } from '../../../api/schemas/vmim.js';
import { FailureReason } from '../../failure-reasons.js';
import type { MigrationStatus } from '../../phases.js';
import { shouldPublish, toProgressBlock } from '../../progress/progress-block.js';
import { runningDecision, trackProgress, type ProgressTracker } from '../../timeouts/policy.js';
import { fresherTracker, progressTrackerFrom } from './clocks.js';

const POLL_RUNNING_MS = 1000;
const POLL_SOON_MS = 50;

export type RunningPlan =
  /** The source says the guest switched over: only the target can confirm it runs there. */
  | { kind: 'confirm-arrival' }
  /** The hypervisor ended the job: free the target, fail with this reason. */
  | { kind: 'fail'; reason: FailureReason; message: string }
  /** A deadline passed: abort on the source, then fail with this reason. */
  | { kind: 'abort-for-timeout'; reason: FailureReason; message: string; tracker: ProgressTracker }
  /** Still moving: remember the tracker, publish a new progress block if one is due, poll again. */
  | { kind: 'continue'; tracker: ProgressTracker; progress?: MigrationProgress; pollAfterMs: number };

export interface RunningFacts {
  status: MigrationStatus;
  job: MigrationJobStatus;
  nowMs: number;
  /** This process's own tracker for the migration, if it has polled it before. */
  remembered?: ProgressTracker;
  sizeBytes: number;
  completionTimeoutPerGiB: number;
  progressTimeout: number;
}

/**
 * When to ask the source again: every second, but sooner when the agent expects the end sooner,
 * so a slot is not held idle for up to a second after the switch-over.
 */
export function nextPoll(job: MigrationJobStatus): number {
  if (job.state === 'SwitchingOver') return POLL_SOON_MS;
  const eta = job.progress?.etaSeconds;
  if (eta === null || eta === undefined) return POLL_RUNNING_MS;
  return Math.max(POLL_SOON_MS, Math.min(POLL_RUNNING_MS, Math.round(eta * 1000) + POLL_SOON_MS));
}

export function planRunning(facts: RunningFacts): RunningPlan {
  const { job, status, nowMs } = facts;
  switch (job.state) {
    case 'Completed':
      return { kind: 'confirm-arrival' };
    case 'Failed':
      return { kind: 'fail', reason: FailureReason.SourceFailed, message: job.failure ?? 'the hypervisor reported the migration failed' };
    case 'Aborted':
      return { kind: 'fail', reason: FailureReason.Aborted, message: 'aborted on the source node' };
    case 'Running':
    case 'SwitchingOver':
      break;
  }
  let tracker = fresherTracker(progressTrackerFrom(status, nowMs), facts.remembered);
  if (job.progress) tracker = trackProgress(tracker, { dataRemainingBytes: job.progress.dataRemainingBytes, atMs: nowMs });
  const started = status.migrationState?.startTimestamp ? Date.parse(status.migrationState.startTimestamp) : NaN;
  const decision = runningDecision({
    startedAtMs: Number.isNaN(started) ? nowMs : started,
    nowMs,
    sizeBytes: facts.sizeBytes,
    completionTimeoutPerGiB: facts.completionTimeoutPerGiB,
    progressTimeout: facts.progressTimeout,
    tracker,
  });
  if (decision.action === 'abort') return { kind: 'abort-for-timeout', reason: decision.reason, message: decision.message, tracker };
  const pollAfterMs = nextPoll(job);
  if (!job.progress) return { kind: 'continue', tracker, pollAfterMs };
  const block: MigrationProgress = {
    ...toProgressBlock(job.progress),
    ...(tracker.lowestRemainingBytes === undefined ? {} : { lowestDataRemainingBytes: tracker.lowestRemainingBytes }),
    lastProgressAt: new Date(tracker.lastProgressAtMs).toISOString(),
  };
  return shouldPublish(status.progress, block, nowMs) ? { kind: 'continue', tracker, progress: block, pollAfterMs } : { kind: 'continue', tracker, pollAfterMs };
}
