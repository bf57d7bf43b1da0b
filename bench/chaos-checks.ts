// The chaos benchmark's invariants as pure functions over what was observed: the VMIMs (last state
// seen, deleted ones included), the agents' logs, the faults. bench/chaos.ts only collects and calls.
import type { VirtualMachineInstance } from '../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../api/schemas/vmim.js';

export const FINAL_PHASES: ReadonlySet<string> = new Set(['Succeeded', 'Failed']);
/** Phases that hold a slot under the limits: from admission to the end. */
export const SLOT_PHASES: ReadonlySet<string> = new Set(['Scheduled', 'PreparingTarget', 'TargetReady', 'Running']);

export interface Limits {
  cluster: number;
  outboundPerNode: number;
  inboundPerNode: number;
}

export function stampMs(vmim: VirtualMachineInstanceMigration, phase: string): number | undefined {
  const value = vmim.status?.phaseTransitionTimestamps?.find((p) => p.phase === phase)?.phaseTransitionTimestamp;
  const ms = value === undefined ? NaN : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** When the migration stopped holding a slot: its final phase's stamp, or `endMs` if it never ended. */
function slotEnd(vmim: VirtualMachineInstanceMigration, endMs: number): number {
  return stampMs(vmim, 'Succeeded') ?? stampMs(vmim, 'Failed') ?? endMs;
}

export interface LimitPeaks {
  cluster: number;
  outbound: number;
  inbound: number;
  /** Where a peak went over its limit: "<when> cluster 6 > 5", "<when> outbound node-2 3 > 2". */
  exceeded: string[];
}

/**
 * The most migrations holding a slot at any instant, from the phase stamps the reconciler wrote
 * (a slot from `Scheduled` to the final phase). At equal stamps an end counts before a start:
 * a slot is taken only after the reconciler saw it freed.
 */
export function limitPeaks(vmims: readonly VirtualMachineInstanceMigration[], limits: Limits, endMs: number): LimitPeaks {
  const events: Array<{ at: number; delta: 1 | -1; source: string; target: string }> = [];
  for (const m of vmims) {
    const start = stampMs(m, 'Scheduled');
    if (start === undefined) continue;
    const source = m.status?.migrationState?.sourceNode ?? '?';
    const target = m.status?.migrationState?.targetNode ?? '?';
    events.push({ at: start, delta: 1, source, target }, { at: Math.max(start, slotEnd(m, endMs)), delta: -1, source, target });
  }
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  const peaks: LimitPeaks = { cluster: 0, outbound: 0, inbound: 0, exceeded: [] };
  let cluster = 0;
  const out = new Map<string, number>();
  const into = new Map<string, number>();
  for (const e of events) {
    cluster += e.delta;
    const o = (out.get(e.source) ?? 0) + e.delta;
    const i = (into.get(e.target) ?? 0) + e.delta;
    out.set(e.source, o);
    into.set(e.target, i);
    if (e.delta < 0) continue;
    const when = new Date(e.at).toISOString();
    if (cluster > limits.cluster) peaks.exceeded.push(`${when} cluster ${cluster} > ${limits.cluster}`);
    if (o > limits.outboundPerNode) peaks.exceeded.push(`${when} outbound ${e.source} ${o} > ${limits.outboundPerNode}`);
    if (i > limits.inboundPerNode) peaks.exceeded.push(`${when} inbound ${e.target} ${i} > ${limits.inboundPerNode}`);
    peaks.cluster = Math.max(peaks.cluster, cluster);
    peaks.outbound = Math.max(peaks.outbound, o);
    peaks.inbound = Math.max(peaks.inbound, i);
  }
  return peaks;
}

/**
 * What the VMI says that contradicts a Running or final VMIM just seen, with both sides as
 * evidence, or undefined when they agree (the order of truth: the VMI is written first).
 */
export function disagreement(vmim: VirtualMachineInstanceMigration, vmi: VirtualMachineInstance | undefined): string | undefined {
  const problem = disagreementOnly(vmim, vmi);
  if (problem === undefined) return undefined;
  // The evidence: what each side said at that moment.
  const stamps = (vmim.status?.phaseTransitionTimestamps ?? []).map((p) => `${p.phase}@${p.phaseTransitionTimestamp.slice(11)}`).join(' ');
  return `${problem} [VMIM ${stamps}; VMIM migrationState ${JSON.stringify(vmim.status?.migrationState)}; VMI on ${vmi?.status?.nodeName}, migrationState ${JSON.stringify(vmi?.status?.migrationState)}]`;
}

function disagreementOnly(vmim: VirtualMachineInstanceMigration, vmi: VirtualMachineInstance | undefined): string | undefined {
  const status = vmim.status ?? {};
  const shown = vmi?.status?.migrationState;
  const uid = vmim.metadata.uid;
  if (status.phase === 'Running') return shown?.migrationUid === uid ? undefined : `Running, but the VMI shows migration ${shown?.migrationUid ?? 'none'}`;
  if (!FINAL_PHASES.has(status.phase ?? '')) return undefined;
  // Handed off (TargetReady) means the VMI names it. A cancel may land between the VMI's hand-off
  // write and the VMIM's TargetReady: then the VMI names it too, and must then say the same end.
  const handedOff = stampMs(vmim, 'TargetReady') !== undefined;
  if (!handedOff && shown?.migrationUid !== uid) return undefined;
  if (!shown || shown.migrationUid !== uid) return `${status.phase}, but the VMI shows migration ${shown?.migrationUid ?? 'none'}`;
  const state = status.migrationState ?? {};
  for (const key of ['completed', 'failed', 'abortStatus', 'endTimestamp', 'targetNode'] as const) {
    if (JSON.stringify(shown[key]) !== JSON.stringify(state[key])) return `${status.phase}, but VMI migrationState.${key} is ${JSON.stringify(shown[key])}, the VMIM says ${JSON.stringify(state[key])}`;
  }
  if (status.phase === 'Succeeded' && vmi?.status?.nodeName !== state.targetNode) return `Succeeded, but the VMI runs on ${vmi?.status?.nodeName}, not ${state.targetNode}`;
  return undefined;
}

export interface AgentStart {
  uid: string;
  node: string;
  /** 202: this call started a job; 200: the agent already knew it. */
  code: number;
  at: number;
}

/** Start calls from the agents' pino logs (one JSON object a line; "agent call" lines). */
export function agentStarts(logText: string): AgentStart[] {
  const starts: AgentStart[] = [];
  for (const line of logText.split('\n')) {
    if (!line.includes('"agent call"') || !line.includes('/start')) continue;
    try {
      const entry = JSON.parse(line) as { route?: string; uid?: string; node?: string; code?: number; time?: number };
      if (entry.route === '/v1/migrations/:uid/start' && entry.uid && entry.node && entry.code !== undefined) {
        starts.push({ uid: entry.uid, node: entry.node, code: entry.code, at: entry.time ?? 0 });
      }
    } catch {
      // a line cut by a SIGKILL
    }
  }
  return starts;
}

/** Migration UIDs for which more than one job was started (202), on one node or on several. */
export function duplicatedStarts(starts: readonly AgentStart[]): Array<{ uid: string; nodes: string[] }> {
  const byUid = new Map<string, string[]>();
  for (const s of starts) if (s.code === 202) byUid.set(s.uid, [...(byUid.get(s.uid) ?? []), s.node]);
  return [...byUid].filter(([, nodes]) => nodes.length > 1).map(([uid, nodes]) => ({ uid, nodes }));
}

/** Every phase stamp written, in ms, sorted: the moments the system made progress. */
export function progressMoments(vmims: readonly VirtualMachineInstanceMigration[]): number[] {
  const moments: number[] = [];
  for (const m of vmims) for (const p of m.status?.phaseTransitionTimestamps ?? []) {
    const ms = Date.parse(p.phaseTransitionTimestamp);
    if (!Number.isNaN(ms)) moments.push(ms);
  }
  return moments.sort((a, b) => a - b);
}

/** Time from `restoredAt` to the first progress after it; undefined when nothing moved afterwards. */
export function recoveryMs(moments: readonly number[], restoredAt: number): number | undefined {
  const next = moments.find((m) => m >= restoredAt);
  return next === undefined ? undefined : next - restoredAt;
}
