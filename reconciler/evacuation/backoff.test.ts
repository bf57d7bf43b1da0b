import { describe, expect, it } from '@jest/globals';
import { backoffDelayMs, evacuationBackoff, type PastEvacuation } from './backoff.js';

const failed = (createdAtMs: number, finishedAtMs: number): PastEvacuation => ({ phase: 'Failed', createdAtMs, finishedAtMs });
const succeeded = (createdAtMs: number, finishedAtMs: number): PastEvacuation => ({ phase: 'Succeeded', createdAtMs, finishedAtMs });

describe('evacuation backoff (KubeVirt: 20 s, doubling per consecutive failure, reset by a success)', () => {
  it('doubles per consecutive failure from the base', () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelayMs(n, 20_000))).toEqual([0, 20_000, 40_000, 80_000, 160_000, 320_000]);
  });

  it('lets the first evacuation, and one after a success, start at once', () => {
    expect(evacuationBackoff([], 20_000)).toEqual({ failures: 0 });
    expect(evacuationBackoff([failed(0, 10), failed(20, 30), succeeded(40, 50)], 20_000)).toEqual({ failures: 0 });
  });

  it('waits from the last failure, counting only failures since the last success', () => {
    expect(evacuationBackoff([failed(0, 1_000)], 20_000)).toEqual({ failures: 1, notBeforeMs: 21_000 });
    // Out of order on input: ordered by creation.
    const past = [failed(100_000, 101_000), succeeded(50_000, 60_000), failed(0, 1_000), failed(70_000, 80_000)];
    expect(evacuationBackoff(past, 20_000)).toEqual({ failures: 2, notBeforeMs: 101_000 + 40_000 });
  });

  it('scales with the base (tests use a short one)', () => {
    expect(evacuationBackoff([failed(0, 10), failed(20, 30), failed(40, 50)], 100)).toEqual({ failures: 3, notBeforeMs: 50 + 400 });
  });
});
