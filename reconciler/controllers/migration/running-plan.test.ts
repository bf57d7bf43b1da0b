import { describe, expect, it } from '@jest/globals';
import type { MigrationJobStatus, ProgressSample } from '../../../agent/contract.js';
import { FailureReason } from '../../failure-reasons.js';
import type { MigrationStatus } from '../../phases.js';
import { nextPoll, planRunning, type RunningFacts } from './running-plan.js';
import { statusAt } from './testing-fakes.js';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const GIB = 2 ** 30;

function sample(remaining: number, extra: Partial<ProgressSample> = {}): ProgressSample {
  return {
    dataProcessedBytes: GIB - remaining,
    dataRemainingBytes: remaining,
    dataTotalBytes: GIB,
    bandwidthBytesPerSecond: 64 * 2 ** 20,
    dirtyRateBytesPerSecond: 0,
    iteration: 1,
    etaSeconds: 5,
    expectedDowntimeMs: 30,
    sampledAt: iso(T0),
    ...extra,
  };
}

const job = (state: MigrationJobStatus['state'], progress?: ProgressSample, failure?: string): MigrationJobStatus => ({ migrationUid: 'uid-1', state, progress, failure });

function facts(over: Partial<RunningFacts> & { job: MigrationJobStatus }): RunningFacts {
  return {
    status: statusAt('Running', 'uid-1', { at: iso(T0) }),
    nowMs: T0 + 1000,
    sizeBytes: GIB,
    completionTimeoutPerGiB: 800,
    progressTimeout: 150,
    ...over,
  };
}

describe('planRunning', () => {
  it('a fresh controller cannot extend the progress timeout: it resumes from the published mark', () => {
    const now = T0 + 60_000;
    const status: MigrationStatus = {
      ...statusAt('Running', 'uid-1', { at: iso(T0) }),
      progress: { dataRemainingBytes: 1000, lowestDataRemainingBytes: 1000, lastProgressAt: iso(now - 10_000), updatedAt: iso(now - 1000) },
    };
    // No remembered tracker (a restart) and no lower sample: 10 s without progress ≥ 5 s.
    const plan = planRunning(facts({ status, nowMs: now, progressTimeout: 5, job: job('Running', sample(1000)) }));
    expect(plan).toMatchObject({ kind: 'abort-for-timeout', reason: FailureReason.ProgressTimeout });
    // Nor can an in-memory tracker that saw the same mark later.
    const remembered = { lowestRemainingBytes: 1000, lastProgressAtMs: now - 1000 };
    expect(planRunning(facts({ status, nowMs: now, progressTimeout: 5, remembered, job: job('Running', sample(1000)) })).kind).toBe('abort-for-timeout');
  });

  it('a sample below the mark is progress: the window restarts and the new mark is published', () => {
    const now = T0 + 60_000;
    const status: MigrationStatus = {
      ...statusAt('Running', 'uid-1', { at: iso(T0) }),
      progress: { dataRemainingBytes: 1000, lowestDataRemainingBytes: 1000, lastProgressAt: iso(now - 10_000), updatedAt: iso(now - 3000) },
    };
    const plan = planRunning(facts({ status, nowMs: now, progressTimeout: 5, job: job('Running', sample(900)) }));
    expect(plan).toMatchObject({ kind: 'continue', tracker: { lowestRemainingBytes: 900, lastProgressAtMs: now } });
    expect(plan.kind === 'continue' && plan.progress).toMatchObject({ dataRemainingBytes: 900, lowestDataRemainingBytes: 900, lastProgressAt: iso(now) });
  });

  it('without any sample, the progress window runs from the start of Running', () => {
    const plan = planRunning(facts({ nowMs: T0 + 150_000, job: job('Running') }));
    expect(plan).toMatchObject({ kind: 'abort-for-timeout', reason: FailureReason.ProgressTimeout });
    expect(planRunning(facts({ nowMs: T0 + 149_999, job: job('Running') }))).toMatchObject({ kind: 'continue', pollAfterMs: 1000 });
  });

  it('the completion budget runs from startTimestamp: 800 s per GiB, 2 GiB → 1600 s', () => {
    const remembered = { lowestRemainingBytes: 10, lastProgressAtMs: T0 + 1_599_000 };
    const at = (ms: number) => planRunning(facts({ nowMs: T0 + ms, sizeBytes: 2 * GIB, remembered, job: job('Running', sample(10)) }));
    expect(at(1_599_999).kind).toBe('continue');
    expect(at(1_600_000)).toMatchObject({ kind: 'abort-for-timeout', reason: FailureReason.CompletionTimeout });
  });

  it("follows the hypervisor's end of the job", () => {
    expect(planRunning(facts({ job: job('Completed') }))).toEqual({ kind: 'confirm-arrival' });
    expect(planRunning(facts({ job: job('Failed', undefined, 'guest crashed') }))).toEqual({ kind: 'fail', reason: FailureReason.SourceFailed, message: 'guest crashed' });
    expect(planRunning(facts({ job: job('Aborted') }))).toMatchObject({ kind: 'fail', reason: FailureReason.Aborted });
  });

  it('publishes a block at most every 2 s, and not when nothing a user sees changed', () => {
    const now = T0 + 10_000;
    const published = planRunning(facts({ nowMs: now, job: job('Running', sample(500)) }));
    if (published.kind !== 'continue' || !published.progress) throw new Error(`expected a block, got ${JSON.stringify(published)}`);
    const status = { ...statusAt('Running', 'uid-1', { at: iso(T0) }), progress: { ...published.progress, updatedAt: iso(now) } };
    const soon = planRunning(facts({ status, nowMs: now + 1000, job: job('Running', sample(400, { sampledAt: iso(now + 1000) })) }));
    expect(soon).toMatchObject({ kind: 'continue' });
    expect(soon.kind === 'continue' && soon.progress).toBeFalsy();
    const later = planRunning(facts({ status, nowMs: now + 2000, job: job('Running', sample(400, { sampledAt: iso(now + 2000) })) }));
    expect(later.kind === 'continue' && later.progress?.dataRemainingBytes).toBe(400);
  });
});

describe('nextPoll', () => {
  it('every second, sooner when the end is near, at once while switching over', () => {
    expect(nextPoll(job('SwitchingOver', sample(0, { etaSeconds: 30 })))).toBe(50);
    expect(nextPoll(job('Running'))).toBe(1000);
    expect(nextPoll(job('Running', sample(10, { etaSeconds: null })))).toBe(1000);
    expect(nextPoll(job('Running', sample(10, { etaSeconds: 30 })))).toBe(1000);
    expect(nextPoll(job('Running', sample(10, { etaSeconds: 0.3 })))).toBe(350);
    expect(nextPoll(job('Running', sample(10, { etaSeconds: 0 })))).toBe(50);
  });
});
