import { describe, expect, it } from '@jest/globals';
import { runningDecision, startProgressTracking, trackProgress } from '../../reconciler/timeouts/policy.js';
import { SimulatedGuest, type GuestSample } from './simulated-guest.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** Ticks in steps of stepMs until the guest stops moving or maxMs passes; returns every sample. */
function run(guest: SimulatedGuest, stepMs: number, maxMs: number): GuestSample[] {
  const samples: GuestSample[] = [guest.sample()];
  for (let t = 0; t < maxMs; t += stepMs) {
    guest.tick(stepMs);
    samples.push(guest.sample());
    if (guest.currentState === 'Completed' || guest.currentState === 'Aborted') break;
  }
  return samples;
}

describe('SimulatedGuest', () => {
  it('an idle guest completes in memory ÷ bandwidth, in one pass, with no pause', () => {
    const guest = new SimulatedGuest({ memoryBytes: GiB, bandwidthBytesPerSecond: 64 * MiB });
    guest.tick(15_900);
    expect(guest.sample()).toMatchObject({ state: 'Copying', percent: 99, etaSeconds: 1 });
    guest.tick(100);
    expect(guest.sample()).toMatchObject({
      state: 'Completed',
      elapsedMs: 16_000,
      dataProcessedBytes: GiB,
      dataRemainingBytes: 0,
      percent: 100,
      iteration: 1,
      expectedDowntimeMs: 0,
    });
  });

  it('reports the cap as MiB/s and the ETA while copying', () => {
    const guest = new SimulatedGuest({ memoryBytes: GiB, bandwidthBytesPerSecond: 64 * MiB });
    guest.tick(4000);
    expect(guest.sample()).toMatchObject({
      state: 'Copying',
      dataProcessedBytes: 256 * MiB,
      dataRemainingBytes: 768 * MiB,
      dataTotalBytes: GiB,
      percent: 25,
      bandwidthMiBps: 64,
      etaSeconds: 12,
    });
  });

  it('a guest dirtying slower than the cap converges over several passes', () => {
    const guest = new SimulatedGuest({ memoryBytes: GiB, bandwidthBytesPerSecond: 64 * MiB, dirtyRateBytesPerSecond: 16 * MiB });
    const samples = run(guest, 500, 600_000);
    const last = samples[samples.length - 1];
    expect(last?.state).toBe('Completed');
    expect(last?.iteration).toBeGreaterThan(2);
    // 1 GiB at a net 48 MiB/s is ~21 s; geometric passes land a little above memory ÷ bandwidth.
    expect(last?.elapsedMs).toBeGreaterThan(16_000);
    expect(last?.elapsedMs).toBeLessThan(22_000);
    expect(last?.expectedDowntimeMs).toBeLessThanOrEqual(300);
  });

  it.each([64, 100])('a guest dirtying at %d MiB/s never converges under a 64 MiB/s cap', (dirty) => {
    const guest = new SimulatedGuest({ memoryBytes: 2 * GiB, bandwidthBytesPerSecond: 64 * MiB, dirtyRateBytesPerSecond: dirty * MiB });
    guest.tick(3_600_000);
    const sample = guest.sample();
    expect(sample.state).toBe('Copying');
    expect(sample.iteration).toBeGreaterThan(50);
    expect(sample.etaSeconds).toBeNull();
  });

  it('is aborted by the progress timeout when it cannot converge, and not when it can', () => {
    const outcome = (dirtyMiB: number) => {
      const guest = new SimulatedGuest({ memoryBytes: 2 * GiB, bandwidthBytesPerSecond: 64 * MiB, dirtyRateBytesPerSecond: dirtyMiB * MiB });
      let tracker = startProgressTracking(0);
      for (let t = 1000; t <= 1_000_000; t += 1000) {
        guest.tick(1000);
        if (guest.currentState === 'Completed') return { completedAtS: t / 1000 };
        tracker = trackProgress(tracker, { atMs: t, dataRemainingBytes: guest.sample().dataRemainingBytes });
        const decision = runningDecision({ startedAtMs: 0, nowMs: t, sizeBytes: 2 * GiB, completionTimeoutPerGiB: 800, progressTimeout: 150, tracker });
        if (decision.action === 'abort') return { abortedAtS: t / 1000, reason: decision.reason };
      }
      return {};
    };
    expect(outcome(80)).toMatchObject({ reason: 'ProgressTimeout' });
    expect(outcome(40)).toHaveProperty('completedAtS');
  });

  it('auto-converge throttles a busy guest until it converges', () => {
    const options = { memoryBytes: GiB, bandwidthBytesPerSecond: 64 * MiB, dirtyRateBytesPerSecond: 80 * MiB };
    const plain = new SimulatedGuest(options);
    const throttled = new SimulatedGuest({ ...options, allowAutoConverge: true });
    plain.tick(600_000);
    throttled.tick(600_000);
    expect(plain.currentState).toBe('Copying');
    expect(throttled.currentState).toBe('Completed');
  });

  it('processed bytes never go down, and total = processed + remaining', () => {
    const guest = new SimulatedGuest({ memoryBytes: 3 * GiB, bandwidthBytesPerSecond: 100 * MiB, dirtyRateBytesPerSecond: 70 * MiB });
    const samples = run(guest, 700, 300_000);
    for (let i = 1; i < samples.length; i++) {
      const [before, after] = [samples[i - 1], samples[i]];
      expect(after?.dataProcessedBytes).toBeGreaterThanOrEqual(before?.dataProcessedBytes ?? Infinity);
      expect(after?.percent).toBeGreaterThanOrEqual(0);
      expect(after?.percent).toBeLessThanOrEqual(100);
    }
    for (const s of samples) expect(s.dataTotalBytes).toBe(s.dataProcessedBytes + s.dataRemainingBytes);
    expect(samples[samples.length - 1]?.state).toBe('Completed');
  });

  it('one long tick reaches the same state as many short ones', () => {
    const options = { memoryBytes: GiB, bandwidthBytesPerSecond: 64 * MiB, dirtyRateBytesPerSecond: 24 * MiB };
    const long = new SimulatedGuest(options);
    const short = new SimulatedGuest(options);
    long.tick(12_345);
    for (let i = 0; i < 12_345; i += 15) short.tick(Math.min(15, 12_345 - i));
    const [a, b] = [long.sample(), short.sample()];
    expect(b.state).toBe(a.state);
    expect(b.iteration).toBe(a.iteration);
    expect(Math.abs(b.dataProcessedBytes - a.dataProcessedBytes)).toBeLessThanOrEqual(1);
    expect(Math.abs(b.dataRemainingBytes - a.dataRemainingBytes)).toBeLessThanOrEqual(1);
  });

  it('abort stops the copy and leaves the guest on the source; after completion it is too late', () => {
    const guest = new SimulatedGuest({ memoryBytes: GiB, bandwidthBytesPerSecond: 64 * MiB });
    guest.tick(5000);
    expect(guest.abort()).toBe('aborted');
    const before = guest.sample();
    guest.tick(60_000);
    expect(guest.sample()).toMatchObject({ state: 'Aborted', dataProcessedBytes: before.dataProcessedBytes, bandwidthMiBps: 0, etaSeconds: null });
    expect(guest.abort()).toBe('aborted');

    const done = new SimulatedGuest({ memoryBytes: 64 * MiB, bandwidthBytesPerSecond: 64 * MiB });
    done.tick(1000);
    expect(done.abort()).toBe('completed-first');
    expect(done.currentState).toBe('Completed');
  });

  it('unlimited bandwidth runs at the link speed', () => {
    const guest = new SimulatedGuest({ memoryBytes: 1_250_000_000, bandwidthBytesPerSecond: 0 });
    guest.tick(1000);
    expect(guest.currentState).toBe('Completed');
  });
});
