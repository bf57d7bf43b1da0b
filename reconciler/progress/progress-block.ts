// Turns the source agent's progress samples into the VMIM's live `status.progress` block, and
// decides when a new block is worth an API write.
//
// Why throttled: the agent may sample every few hundred ms (KubeVirt: 400 ms), but every write to
// the VMIM costs the API server and wakes every watcher. The block is written at most once per
// PROGRESS_INTERVAL_MS (the issue: "every second or two"), and not at all when nothing a user
// sees changed.
import type { MigrationProgress } from '../../api/schemas/vmim.js';
import type { ProgressSample } from '../../agent/contract.js';
import { jsonEqual } from '../../common/json-equal.js';

export const PROGRESS_INTERVAL_MS = 2000;
const MIB = 2 ** 20;

/** The block a user sees; the progress clock's fields (lowest remaining, last progress) are added by the caller. */
export type ProgressBlock = Required<Omit<MigrationProgress, 'lowestDataRemainingBytes' | 'lastProgressAt'>>;

export function toProgressBlock(sample: ProgressSample): ProgressBlock {
  const total = sample.dataTotalBytes;
  const percent = total > 0 ? Math.min(100, Math.floor((sample.dataProcessedBytes * 100) / total)) : 0;
  return {
    dataProcessedBytes: sample.dataProcessedBytes,
    dataRemainingBytes: sample.dataRemainingBytes,
    dataTotalBytes: total,
    percent,
    bandwidthMiBps: Math.round((sample.bandwidthBytesPerSecond / MIB) * 10) / 10,
    dirtyRateBytesPerSecond: sample.dirtyRateBytesPerSecond,
    iteration: sample.iteration,
    etaSeconds: sample.etaSeconds,
    expectedDowntimeMs: sample.expectedDowntimeMs,
    updatedAt: sample.sampledAt,
  };
}

/** Whether `next` should replace the published block `previous` at time nowMs. */
export function shouldPublish(previous: MigrationProgress | undefined, next: MigrationProgress, nowMs: number): boolean {
  if (previous === undefined) return true;
  const { updatedAt: _before, ...seenBefore } = previous;
  const { updatedAt: _after, ...seenNow } = next;
  if (jsonEqual(seenBefore, seenNow)) return false;
  const last = previous.updatedAt === undefined ? NaN : Date.parse(previous.updatedAt);
  return Number.isNaN(last) || nowMs - last >= PROGRESS_INTERVAL_MS;
}
