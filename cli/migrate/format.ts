// What `kubectl migrate` prints (pure: objects and a clock in, text out).
import { stringify } from 'yaml';
import { FINAL_MIGRATION_PHASES, type VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { describeMigration, progressBar } from '../progress.js';
import type { OutputFormat } from './args.js';

import { VMI_NAME_LABEL } from '../../api/names.js';

export { VMI_NAME_LABEL };
const MIB = 2 ** 20;

export function isFinal(vmim: VirtualMachineInstanceMigration): boolean {
  return FINAL_MIGRATION_PHASES.includes(vmim.status?.phase ?? 'Pending');
}

/** 0 when it succeeded, 1 when it failed (the plugin's exit codes). */
export function exitCodeFor(vmim: VirtualMachineInstanceMigration): 0 | 1 {
  return vmim.status?.phase === 'Succeeded' ? 0 : 1;
}

export type NewMigration = Omit<VirtualMachineInstanceMigration, 'metadata'> & { metadata: { generateName: string; namespace: string } };

/** The VMIM `kubectl migrate VMI` creates (the API server completes its name). */
export function migrationFor(vmi: string, namespace: string, nodeSelector: Record<string, string>): NewMigration {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstanceMigration',
    metadata: { generateName: `${vmi}-migration-`, namespace },
    spec: { vmiName: vmi, ...(Object.keys(nodeSelector).length > 0 ? { addedNodeSelector: nodeSelector } : {}) },
  };
}

/** kubectl's short ages: 45s, 3m12s, 2h5m, 4d. */
export function shortDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? `${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(s / 86_400)}d`;
}

function since(timestamp: string | null | undefined, nowMs: number): string {
  if (!timestamp) return '<none>';
  const t = Date.parse(timestamp);
  return Number.isNaN(t) ? '<none>' : shortDuration(nowMs - t);
}

function phaseTime(vmim: VirtualMachineInstanceMigration, phase: string): number | undefined {
  const entry = vmim.status?.phaseTransitionTimestamps?.find((p) => p.phase === phase);
  const t = entry ? Date.parse(entry.phaseTransitionTimestamp) : NaN;
  return Number.isNaN(t) ? undefined : t;
}

export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('   ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function created(vmim: VirtualMachineInstanceMigration): number {
  const t = Date.parse(vmim.metadata.creationTimestamp ?? '');
  return Number.isNaN(t) ? 0 : t;
}

function byNewest(a: VirtualMachineInstanceMigration, b: VirtualMachineInstanceMigration): number {
  return created(b) - created(a) || (b.metadata.name ?? '').localeCompare(a.metadata.name ?? '');
}

/** Migrations in flight, oldest first, with their progress. */
export function statusTable(vmims: readonly VirtualMachineInstanceMigration[], nowMs: number, withNamespace: boolean): string {
  const inFlight = vmims.filter((m) => !isFinal(m)).sort((a, b) => byNewest(b, a));
  if (inFlight.length === 0) return 'No migrations in flight.';
  const header = [...(withNamespace ? ['NAMESPACE'] : []), 'NAME', 'VMI', 'PHASE', 'SOURCE', 'TARGET', 'PROGRESS', 'RATE', 'REMAINING', 'ETA', 'AGE'];
  const rows = inFlight.map((m) => {
    const p = m.status?.progress;
    const running = m.status?.phase === 'Running' && p !== undefined;
    const waiting = m.status?.conditions?.find((c) => c.type === 'Admitted' && c.status === 'False');
    return [
      ...(withNamespace ? [m.metadata.namespace ?? ''] : []),
      m.metadata.name ?? '',
      m.spec.vmiName,
      m.status?.phase ?? 'Pending',
      m.status?.migrationState?.sourceNode ?? '<none>',
      m.status?.migrationState?.targetNode ?? '<none>',
      running ? `${progressBar(p.percent ?? 0, 10)} ${String(p.percent ?? 0).padStart(3)}%` : waiting ? `waiting: ${waiting.reason ?? ''}` : '',
      running ? `${(p.bandwidthMiBps ?? 0).toFixed(1)} MiB/s` : '',
      running && p.dataRemainingBytes !== undefined ? `${(p.dataRemainingBytes / MIB).toFixed(0)} MiB` : '',
      running && p.etaSeconds !== undefined && p.etaSeconds !== null ? shortDuration(p.etaSeconds * 1000) : '',
      since(m.metadata.creationTimestamp, nowMs),
    ];
  });
  return renderTable(header, rows);
}

function result(vmim: VirtualMachineInstanceMigration): string {
  const state = vmim.status?.migrationState;
  if (vmim.status?.phase === 'Succeeded') return 'moved';
  if (vmim.status?.phase !== 'Failed') return 'in flight';
  const abort = state?.abortRequested ? `cancelled (abort ${state.abortStatus ?? 'requested'})` : '';
  return [abort, state?.failureReason].filter(Boolean).join(': ') || 'failed';
}

/** Every migration of one VMI, newest first. */
export function historyTable(vmims: readonly VirtualMachineInstanceMigration[], vmi: string, nowMs: number): string {
  const ofVmi = vmims.filter((m) => m.spec.vmiName === vmi).sort(byNewest);
  if (ofVmi.length === 0) return `No migrations of ${vmi}.`;
  const rows = ofVmi.map((m) => {
    const start = created(m);
    const end = phaseTime(m, m.status?.phase === 'Succeeded' ? 'Succeeded' : 'Failed');
    return [
      m.metadata.name ?? '',
      m.status?.phase ?? 'Pending',
      m.status?.migrationState?.sourceNode ?? '<none>',
      m.status?.migrationState?.targetNode ?? '<none>',
      since(m.metadata.creationTimestamp, nowMs),
      isFinal(m) && end !== undefined && start > 0 ? shortDuration(end - start) : '',
      result(m),
    ];
  });
  return renderTable(['NAME', 'PHASE', 'SOURCE', 'TARGET', 'AGE', 'DURATION', 'RESULT'], rows);
}

/** The one line of progress; on a terminal it is redrawn in place, cut to the terminal's width. */
export function progressLine(vmim: VirtualMachineInstanceMigration): string {
  return `${vmim.metadata.name}: ${describeMigration(vmim)}`;
}

export function redraw(line: string, columns: number | undefined): string {
  const width = columns && columns > 10 ? columns - 1 : line.length;
  return `\r${line.slice(0, width)}\x1b[K`;
}

/** The last line of `--wait`: the outcome, and the reason on failure. */
export function outcomeLine(vmim: VirtualMachineInstanceMigration): string {
  const start = created(vmim);
  const end = phaseTime(vmim, vmim.status?.phase ?? '');
  const took = start > 0 && end !== undefined ? ` in ${shortDuration(end - start)}` : '';
  return `${vmim.metadata.name}: ${describeMigration(vmim)}${took}`;
}

/** Objects for scripts: one object as itself, several as a v1 List. */
export function serialize(value: unknown, format: Exclude<OutputFormat, 'text'>): string {
  return format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : stringify(value, { lineWidth: 0 });
}

export function asList(items: readonly VirtualMachineInstanceMigration[]): { apiVersion: 'v1'; kind: 'List'; items: readonly VirtualMachineInstanceMigration[] } {
  return { apiVersion: 'v1', kind: 'List', items };
}
