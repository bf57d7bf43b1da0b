// One line that tells a person where a migration is: phase, a bar, percent, MiB/s, what remains,
// ETA; or its outcome. Shared by the demo and (later) the kubectl plugin.
import type { VirtualMachineInstanceMigration } from '../api/schemas/vmim.js';

const MIB = 2 ** 20;

function mib(bytes: number | undefined): string {
  return bytes === undefined ? '?' : `${(bytes / MIB).toFixed(0)} MiB`;
}

function duration(seconds: number | null | undefined): string {
  if (seconds === undefined || seconds === null) return '—';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
}

export function progressBar(percent: number, width: number): string {
  const filled = Math.max(0, Math.min(width, Math.round((percent / 100) * width)));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** The one-line view of a migration in flight or ended. */
export function describeMigration(vmim: VirtualMachineInstanceMigration, barWidth = 30): string {
  const status = vmim.status;
  const phase = status?.phase ?? 'Pending';
  const state = status?.migrationState;
  if (phase === 'Succeeded') return `Succeeded: ${vmim.spec.vmiName} moved ${state?.sourceNode} → ${state?.targetNode}`;
  if (phase === 'Failed') {
    const abort = state?.abortRequested ? ` (abort ${state.abortStatus ?? 'requested'})` : '';
    return `Failed${abort}: ${state?.failureReason ?? 'no reason given'}`;
  }
  const progress = status?.progress;
  if (phase !== 'Running' || !progress) {
    const waiting = status?.conditions?.find((c) => c.type === 'Admitted' && c.status === 'False');
    return `${phase.padEnd(15)} ${waiting ? `waiting: ${waiting.message ?? waiting.reason}` : ''}`.trimEnd();
  }
  const percent = progress.percent ?? 0;
  return [
    phase.padEnd(8),
    progressBar(percent, barWidth),
    `${String(percent).padStart(3)}%`,
    `${(progress.bandwidthMiBps ?? 0).toFixed(1)} MiB/s`,
    `remaining ${mib(progress.dataRemainingBytes)}`,
    `ETA ${duration(progress.etaSeconds)}`,
    progress.iteration && progress.iteration > 1 ? `pass ${progress.iteration}` : '',
  ]
    .filter(Boolean)
    .join('  ');
}
