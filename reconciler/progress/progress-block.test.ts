import { describe, expect, it } from '@jest/globals';
import type { ProgressSample } from '../../agent/contract.js';
import { shouldPublish, toProgressBlock } from './progress-block.js';

const MiB = 2 ** 20;
const sample: ProgressSample = {
  dataProcessedBytes: 768 * MiB,
  dataRemainingBytes: 256 * MiB,
  dataTotalBytes: 1024 * MiB,
  bandwidthBytesPerSecond: 64 * MiB,
  dirtyRateBytesPerSecond: 8 * MiB,
  iteration: 2,
  etaSeconds: 5,
  expectedDowntimeMs: 120,
  sampledAt: '2026-01-01T00:00:10.000Z',
};

describe('progress block', () => {
  it('shows percent and MiB/s as a user reads them', () => {
    expect(toProgressBlock(sample)).toEqual({
      dataProcessedBytes: 768 * MiB,
      dataRemainingBytes: 256 * MiB,
      dataTotalBytes: 1024 * MiB,
      percent: 75,
      bandwidthMiBps: 64,
      dirtyRateBytesPerSecond: 8 * MiB,
      iteration: 2,
      etaSeconds: 5,
      expectedDowntimeMs: 120,
      updatedAt: '2026-01-01T00:00:10.000Z',
    });
  });

  it('is written at most every 2 s, and never when nothing visible changed', () => {
    const published = toProgressBlock(sample);
    const at = (s: number) => Date.parse('2026-01-01T00:00:10.000Z') + s * 1000;
    const moved = toProgressBlock({ ...sample, dataProcessedBytes: 800 * MiB, sampledAt: '2026-01-01T00:00:11.000Z' });
    expect(shouldPublish(undefined, published, at(0))).toBe(true);
    expect(shouldPublish(published, moved, at(1))).toBe(false);
    expect(shouldPublish(published, moved, at(2))).toBe(true);
    const sameNumbers = toProgressBlock({ ...sample, sampledAt: '2026-01-01T00:00:30.000Z' });
    expect(shouldPublish(published, sameNumbers, at(20))).toBe(false);
  });
});
