import { describe, expect, it } from '@jest/globals';
import { decideLease, defaultCallTimeoutMs, leadershipEndsAt, observe, renewalCounts, timingProblems, type LeaseRecord, type Observation } from './lease-policy.js';

const FALLBACK = 15_000;
const HOUR = 3_600_000;
// Wall clock of "now" as the replicas' clocks would print it; never compared with the local clock.
const wall = Date.parse('2026-11-28T10:00:00Z');

function record(overrides: Partial<LeaseRecord> = {}): LeaseRecord {
  return { holderIdentity: 'b', renewTime: new Date(wall).toISOString(), leaseDurationSeconds: 15, resourceVersion: '100', ...overrides };
}

function seen(rec: LeaseRecord, atMs: number, previous?: Observation): Observation {
  const observation = observe(previous, rec, atMs, FALLBACK);
  if (!observation) throw new Error('expected an observation');
  return observation;
}

describe('observe', () => {
  it('has nothing to observe when there is no Lease', () => {
    expect(observe(undefined, undefined, 5, FALLBACK)).toBeUndefined();
  });

  it('keeps the first time an unchanged record was seen', () => {
    const first = seen(record(), 1_000);
    expect(seen(record(), 9_000, first).observedAtMs).toBe(1_000);
  });

  it('restarts the count on any change: resourceVersion, holder or renewTime', () => {
    const first = seen(record(), 1_000);
    expect(seen(record({ resourceVersion: '101' }), 9_000, first).observedAtMs).toBe(9_000);
    expect(seen(record({ holderIdentity: 'c' }), 9_000, first).observedAtMs).toBe(9_000);
    expect(seen(record({ renewTime: new Date(wall + 1).toISOString() }), 9_000, first).observedAtMs).toBe(9_000);
  });

  it('treats a Date and its RFC 3339 text as the same renewTime', () => {
    const first = seen(record({ renewTime: new Date(wall) }), 1_000);
    expect(seen(record({ renewTime: new Date(wall).toISOString() }), 9_000, first).observedAtMs).toBe(1_000);
  });

  it('takes the duration from the record, and ours when the record has none', () => {
    expect(seen(record({ leaseDurationSeconds: 3 }), 0).leaseDurationMs).toBe(3_000);
    expect(seen(record({ leaseDurationSeconds: null }), 0).leaseDurationMs).toBe(FALLBACK);
    expect(seen(record({ leaseDurationSeconds: 0 }), 0).leaseDurationMs).toBe(FALLBACK);
  });
});

describe('decideLease', () => {
  it('takes a lease nobody holds, or that was released', () => {
    expect(decideLease(undefined, 'a', 0)).toEqual({ action: 'acquire', previousHolder: undefined });
    expect(decideLease(seen(record({ holderIdentity: '' }), 0), 'a', 0)).toEqual({ action: 'acquire', previousHolder: undefined });
    expect(decideLease(seen(record({ holderIdentity: null }), 0), 'a', 0)).toEqual({ action: 'acquire', previousHolder: undefined });
  });

  it('renews its own lease whatever its renewTime says', () => {
    expect(decideLease(seen(record({ holderIdentity: 'a', renewTime: new Date(wall - HOUR).toISOString() }), 0), 'a', 1)).toEqual({ action: 'renew' });
  });

  it('waits a full lease duration after it first saw the record, not after its renewTime', () => {
    const observation = seen(record(), 50_000);
    expect(decideLease(observation, 'a', 50_000)).toEqual({ action: 'wait', holder: 'b', expiresInMs: 15_000 });
    expect(decideLease(observation, 'a', 64_999)).toEqual({ action: 'wait', holder: 'b', expiresInMs: 1 });
    expect(decideLease(observation, 'a', 65_000)).toEqual({ action: 'acquire', previousHolder: 'b' });
  });

  it('does not take over from a holder with a slow clock that keeps renewing', () => {
    // The holder's clock is an hour behind: every renewTime it writes is an hour in the past.
    let observation: Observation | undefined;
    for (let t = 0, rv = 1; t <= 60_000; t += 2_000, rv++) {
      observation = seen(record({ renewTime: new Date(wall - HOUR + t).toISOString(), resourceVersion: String(rv) }), t, observation);
      expect(decideLease(observation, 'a', t).action).toBe('wait');
    }
  });

  it('does not keep a holder with a fast clock alive once it stops renewing', () => {
    // renewTime an hour in the future: expiry still counts from when we saw it.
    const observation = seen(record({ renewTime: new Date(wall + HOUR).toISOString() }), 0);
    expect(decideLease(observation, 'a', 14_999).action).toBe('wait');
    expect(decideLease(seen(record({ renewTime: new Date(wall + HOUR).toISOString() }), 15_000, observation), 'a', 15_000)).toEqual({
      action: 'acquire',
      previousHolder: 'b',
    });
  });

  it('lets a released lease (duration 1 s, no holder) go at once', () => {
    expect(decideLease(seen(record({ holderIdentity: '', leaseDurationSeconds: 1 }), 0), 'a', 0).action).toBe('acquire');
  });
});

describe('leader deadline', () => {
  it('ends leadership renewDeadline after the start of the last successful renewal', () => {
    expect(leadershipEndsAt(10_000, 2_000)).toBe(12_000);
    expect(renewalCounts(10_000, 11_999, 2_000)).toBe(true);
    expect(renewalCounts(10_000, 12_000, 2_000)).toBe(false);
  });

  it('makes the leader stop before a follower may take over, however the clocks are set', () => {
    // Leader starts a renewal at S (its clock); the write lands at W ≥ S; the follower sees it at O ≥ W.
    const timings = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000 };
    for (const [start, landsAfter, seenAfter] of [[0, 0, 0], [0, 1_900, 0], [0, 0, 2_500], [0, 500, 500]] as const) {
      const followerSeesAt = start + landsAfter + seenAfter;
      const followerMayTakeAt = followerSeesAt + timings.leaseDurationMs;
      expect(leadershipEndsAt(start, timings.renewDeadlineMs)).toBeLessThan(followerMayTakeAt);
    }
  });
});

describe('timings', () => {
  it('accepts client-go defaults and the short test timings', () => {
    expect(timingProblems({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, callTimeoutMs: defaultCallTimeoutMs(10_000) })).toEqual([]);
    expect(timingProblems({ leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 500, callTimeoutMs: defaultCallTimeoutMs(2_000) })).toEqual([]);
  });

  it('refuses timings under which two replicas could lead at once, or a call could outlast the deadline', () => {
    expect(timingProblems({ leaseDurationMs: 3_000, renewDeadlineMs: 3_000, retryPeriodMs: 500, callTimeoutMs: 1_000 })).toContain('renewDeadline must be shorter than leaseDuration');
    expect(timingProblems({ leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 500, callTimeoutMs: 2_000 })).toContain(
      'callTimeout must be positive and shorter than renewDeadline',
    );
    expect(timingProblems({ leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 1_700, callTimeoutMs: 1_000 })).toContain('renewDeadline must exceed 1.2 × retryPeriod');
  });
});
