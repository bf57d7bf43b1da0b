// When a VM being shut down is destroyed, and what one shutdown step does (pure). The deadline
// must survive an agent restart, or an agent killed mid-grace would give the guest a fresh grace
// (and one killed repeatedly would never destroy it):
// - a VMI being deleted: its metadata.deletionTimestamp + spec.terminationGracePeriodSeconds, which
//   the API server keeps, so every agent that looks computes the same instant;
// - otherwise (an orphan whose VMI is gone, a VM running on after its VMI went final): now + grace
//   at the first look, recorded by the host beside the VM (the earliest recorded deadline wins).
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';

/** KubeVirt's default terminationGracePeriodSeconds. */
export const DEFAULT_GRACE_SECONDS = 30;

export function graceSecondsOf(vmi: VirtualMachineInstance | undefined): number {
  const raw = vmi?.spec?.terminationGracePeriodSeconds;
  return typeof raw === 'number' && Number.isInteger(raw) && raw >= 0 ? raw : DEFAULT_GRACE_SECONDS;
}

/** The instant (ms since the epoch) the VM is destroyed if the guest has not shut down by then. */
export function shutdownDeadlineMs(vmi: VirtualMachineInstance | undefined, nowMs: number): number {
  const grace = graceSecondsOf(vmi) * 1000;
  const deleting = Date.parse(vmi?.metadata.deletionTimestamp ?? '');
  return Number.isNaN(deleting) ? nowMs + grace : deleting + grace;
}

export interface ShutdownStep {
  /** The deadline in force: the earlier of the recorded one and the one asked for. */
  deadlineMs: number;
  /** Record deadlineMs with the VM (nothing was recorded, or the new one is earlier). */
  record: boolean;
  /** Ask the guest to shut down (ACPI): once, when the shutdown begins and there is time left. */
  requestGuestShutdown: boolean;
  destroy: boolean;
}

export function shutdownStep(recordedMs: number | undefined, requestedMs: number, nowMs: number): ShutdownStep {
  const deadlineMs = recordedMs === undefined ? requestedMs : Math.min(recordedMs, requestedMs);
  const destroy = nowMs >= deadlineMs;
  return { deadlineMs, record: recordedMs === undefined || deadlineMs < recordedMs, requestGuestShutdown: recordedMs === undefined && !destroy, destroy };
}
