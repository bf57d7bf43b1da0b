import { describe, expect, it } from '@jest/globals';
import {
  abortingDecision,
  completionBudgetSeconds,
  GIB,
  migrationSizeBytes,
  runningDecision,
  startProgressTracking,
  trackProgress,
  waitingDecision,
  type ProgressTracker,
  type WaitFacts,
} from './policy.js';

const S = 1000;

describe('completion budget', () => {
  it("the seed's example: 8 GiB at 800 s/GiB → 6400 s", () => {
    expect(completionBudgetSeconds(800, 8 * GIB)).toBe(6400);
  });

  it('rounds binary GiB up, with at least one', () => {
    expect(completionBudgetSeconds(800, 8 * GIB + 1)).toBe(7200);
    expect(completionBudgetSeconds(800, 8_000_000_000)).toBe(6400); // 7.45 GiB
    expect(completionBudgetSeconds(150, 0)).toBe(150);
  });

  it('counts local disks only for BlockMigration', () => {
    expect(migrationSizeBytes(2 * GIB, 'BlockMigration', 10 * GIB)).toBe(12 * GIB);
    expect(migrationSizeBytes(2 * GIB, 'LiveMigration', 10 * GIB)).toBe(2 * GIB);
  });
});

function feed(tracker: ProgressTracker, samples: Array<[number, number]>): ProgressTracker {
  return samples.reduce((t, [atMs, dataRemainingBytes]) => trackProgress(t, { atMs, dataRemainingBytes }), tracker);
}

const running = (tracker: ProgressTracker, nowMs: number) =>
  runningDecision({ startedAtMs: 0, nowMs, sizeBytes: 8 * GIB, completionTimeoutPerGiB: 800, progressTimeout: 150, tracker });

describe('progress timeout', () => {
  it('a steadily shrinking remainder keeps the migration going', () => {
    const samples: Array<[number, number]> = Array.from({ length: 300 }, (_, i) => [i * S, 8 * GIB - i * 20_000_000]);
    expect(running(feed(startProgressTracking(0), samples), 300 * S)).toEqual({ action: 'continue' });
  });

  it('aborts once remaining has not gone below its lowest for progressTimeout seconds', () => {
    // Sawtooth of a guest dirtying as fast as it is copied: dips within a pass, never below 1 GiB.
    const samples: Array<[number, number]> = Array.from({ length: 200 }, (_, i) => [i * S, GIB + (i % 10) * 50_000_000]);
    const tracker = feed(startProgressTracking(0), samples);
    expect(tracker.lastProgressAtMs).toBe(0);
    expect(running(tracker, 149 * S)).toEqual({ action: 'continue' });
    expect(running(tracker, 150 * S)).toMatchObject({ action: 'abort', reason: 'ProgressTimeout' });
  });

  it('a new low resets the window', () => {
    const tracker = feed(startProgressTracking(0), [[0, 100], [100 * S, 100], [140 * S, 99]]);
    expect(running(tracker, 250 * S)).toEqual({ action: 'continue' });
    expect(running(tracker, 290 * S)).toMatchObject({ reason: 'ProgressTimeout' });
  });

  it('no sample at all counts as no progress', () => {
    expect(running(startProgressTracking(10 * S), 160 * S)).toMatchObject({
      action: 'abort',
      reason: 'ProgressTimeout',
      message: 'data remaining has not gone down for 150s (no progress reported)',
    });
  });
});

describe('completion timeout', () => {
  it('aborts at the budget even while progressing', () => {
    let tracker = startProgressTracking(0);
    tracker = trackProgress(tracker, { atMs: 6399 * S, dataRemainingBytes: 1 });
    expect(running(tracker, 6399 * S)).toEqual({ action: 'continue' });
    expect(running(tracker, 6400 * S)).toEqual({
      action: 'abort',
      reason: 'CompletionTimeout',
      message: 'not completed within 6400s (800s per GiB × 8 GiB)',
    });
  });

  it('reports the deadline that passed first', () => {
    const stuck = startProgressTracking(0);
    const tiny = runningDecision({ startedAtMs: 0, nowMs: 500 * S, sizeBytes: GIB, completionTimeoutPerGiB: 100, progressTimeout: 150, tracker: stuck });
    expect(tiny).toMatchObject({ reason: 'CompletionTimeout' });
  });
});

describe('bounded waits', () => {
  const base: WaitFacts = { phase: 'Scheduling', nowMs: 0, waitingSinceMs: 0, unschedulableTimeout: 300, targetReadyTimeout: 120 };

  it('Scheduling waits for slots without bound, but fails after unschedulableTimeout with no eligible node', () => {
    expect(waitingDecision({ ...base, nowMs: 10_000 * S })).toEqual({ action: 'continue' });
    expect(waitingDecision({ ...base, nowMs: 399 * S, noEligibleTargetSinceMs: 100 * S })).toEqual({ action: 'continue' });
    expect(waitingDecision({ ...base, nowMs: 400 * S, noEligibleTargetSinceMs: 100 * S })).toMatchObject({ reason: 'Unschedulable' });
    // A VMI that is not running (or not evaluated) yet is waited for as long, no longer.
    expect(waitingDecision({ ...base, nowMs: 399 * S, vmiNotReadySinceMs: 100 * S })).toEqual({ action: 'continue' });
    expect(waitingDecision({ ...base, nowMs: 400 * S, vmiNotReadySinceMs: 100 * S })).toEqual({
      action: 'abort',
      reason: 'VmiNotReady',
      message: 'the VMI was not running and live-migratable within 300s',
    });
  });

  it.each(['Scheduled', 'PreparingTarget'] as const)('%s fails TargetNotReady after targetReadyTimeout', (phase) => {
    expect(waitingDecision({ ...base, phase, nowMs: 119 * S })).toEqual({ action: 'continue' });
    expect(waitingDecision({ ...base, phase, nowMs: 120 * S })).toMatchObject({ reason: 'TargetNotReady' });
  });

  it('TargetReady fails when the source does not start', () => {
    expect(waitingDecision({ ...base, phase: 'TargetReady', nowMs: 120 * S })).toMatchObject({ reason: 'AgentUnreachable' });
  });

  it('an agent silent for targetReadyTimeout is unreachable, naming the node', () => {
    expect(waitingDecision({ ...base, phase: 'Scheduling', nowMs: 130 * S, agentSilentSinceMs: 10 * S, agentNode: 'node-b' })).toEqual({
      action: 'abort',
      reason: 'AgentUnreachable',
      message: 'agent on node-b did not answer for 120s',
    });
  });

  it('an abort the agent never confirms finishes within targetReadyTimeout', () => {
    const facts = { abortRequestedAtMs: 0, agentNode: 'node02', targetReadyTimeout: 120 };
    expect(abortingDecision({ ...facts, nowMs: 119 * S })).toEqual({ action: 'continue' });
    expect(abortingDecision({ ...facts, nowMs: 120 * S })).toMatchObject({ action: 'abort', reason: 'AgentUnreachable' });
  });
});
