// KubeVirt's backoff for evacuation retries: after a VMI's evacuation migration fails, the next one
// waits `base` (20 s) for one failure, doubling per further consecutive failure, counted since its
// last successful evacuation and measured from when the last one failed. Only evacuation
// migrations count and only they wait: a user's own VMIM is never delayed by this.
//
// Where KubeVirt holds an already created VMIM in Pending, we wait before creating the next one: the
// same retry times, and a waiting VMI holds no VMIM that a user's migration would be refused for.
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';

export const DEFAULT_BACKOFF_BASE_MS = 20_000;
/** Past 2^10 × base the wait stops growing (KubeVirt's history of 5 caps it at 16 × base anyway). */
const MAX_DOUBLINGS = 10;

export interface PastEvacuation {
  phase: 'Succeeded' | 'Failed';
  /** When it became final (ms). */
  finishedAtMs: number;
  createdAtMs: number;
}

export interface Backoff {
  /** Consecutive failures since the last success. */
  failures: number;
  /** When the next evacuation migration may be created; undefined when it may be at once. */
  notBeforeMs?: number;
}

/** The wait after `failures` consecutive failures: base, 2 × base, 4 × base, … */
export function backoffDelayMs(failures: number, baseMs: number): number {
  if (failures <= 0) return 0;
  return baseMs * 2 ** Math.min(failures - 1, MAX_DOUBLINGS);
}

/** From a VMI's finished evacuation migrations (any order): how long its next one must wait. */
export function evacuationBackoff(past: readonly PastEvacuation[], baseMs: number): Backoff {
  const ordered = [...past].sort((a, b) => a.createdAtMs - b.createdAtMs || a.finishedAtMs - b.finishedAtMs);
  let failures = 0;
  let lastFailedAtMs = 0;
  for (const evacuation of ordered) {
    if (evacuation.phase === 'Succeeded') {
      failures = 0;
    } else {
      failures += 1;
      lastFailedAtMs = Math.max(lastFailedAtMs, evacuation.finishedAtMs);
    }
  }
  if (failures === 0) return { failures };
  return { failures, notBeforeMs: lastFailedAtMs + backoffDelayMs(failures, baseMs) };
}

function stampMs(vmim: VirtualMachineInstanceMigration, phase: string): number | undefined {
  const entry = vmim.status?.phaseTransitionTimestamps?.find((p) => p.phase === phase);
  const ms = entry ? Date.parse(entry.phaseTransitionTimestamp) : Number.NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

/** A final VMIM as a past evacuation; undefined while it is not final. */
export function pastEvacuation(vmim: VirtualMachineInstanceMigration): PastEvacuation | undefined {
  const phase = vmim.status?.phase;
  if (phase !== 'Succeeded' && phase !== 'Failed') return undefined;
  const createdAtMs = Date.parse(vmim.metadata.creationTimestamp ?? '') || 0;
  return { phase, finishedAtMs: stampMs(vmim, phase) ?? createdAtMs, createdAtMs };
}
