// The chaos benchmark's figures and verdict from what was observed (pure; bench/chaos.ts collects).
import type { VirtualMachineInstance } from '../api/schemas/vmi.js';
import { agentStarts, duplicatedStarts, FINAL_PHASES, limitPeaks, progressMoments, recoveryMs, type Limits } from './chaos-checks.js';
import type { FaultRecord } from './chaos-faults.js';
import type { OrderOfTruth, Seen } from './chaos-observer.js';

export interface ChaosObservations {
  seed: number;
  created: number;
  /** Names created but never seen by the watch, and whether a cancel was asked for each. */
  unseen: ReadonlyArray<{ name: string; cancelled: boolean }>;
  cancelRequested: number;
  refused: { creates: number; deletes: number };
  seen: readonly Seen[];
  vmis: readonly VirtualMachineInstance[];
  agentLog: string;
  faults: readonly FaultRecord[];
  order: OrderOfTruth;
  livePeak: { cluster: number; outbound: number; inbound: number; exceeded: string[] };
  limits: Limits;
  recoveryBoundS: number;
  drainS: number;
  endMs: number;
}

const first = <T>(list: readonly T[], n = 10): T[] => list.slice(0, n);

export function chaosReport(o: ChaosObservations) {
  const phase = (s: Seen) => s.vmim.status?.phase ?? '';
  const final = o.seen.filter((s) => FINAL_PHASES.has(phase(s)));
  // Lost: never final; a VMIM deleted before it was final (its finalizer let go early) counts too.
  const lost = o.seen.filter((s) => !FINAL_PHASES.has(phase(s))).map((s) => `${s.vmim.metadata.name}: ${phase(s) || 'no phase'}${s.deleted ? ' (deleted)' : ''}`);
  // Never seen at all and gone at the end: created and cancelled while the watch was relisting.
  // Its end cannot be checked; one never cancelled cannot be gone, so that one counts as lost.
  const neverSeen = o.unseen.filter((u) => !u.cancelled).map((u) => u.name);
  const finalizersLeft = final.filter((s) => !s.deleted && (s.vmim.metadata.finalizers ?? []).length > 0).map((s) => s.vmim.metadata.name ?? '');
  const starts = agentStarts(o.agentLog);
  const duplicated = duplicatedStarts(starts);
  const peaks = limitPeaks(o.seen.map((s) => s.vmim), o.limits, o.endMs);

  // Where each guest is at the end must match what its (only) migration says.
  const vmiByName = new Map(o.vmis.map((v) => [v.metadata.name, v]));
  const misplaced: string[] = [];
  for (const s of final) {
    const vmi = vmiByName.get(s.vmim.spec.vmiName);
    const state = s.vmim.status?.migrationState;
    const expected = phase(s) === 'Succeeded' ? state?.targetNode : state?.sourceNode;
    if (vmi && expected && vmi.status?.nodeName !== expected) misplaced.push(`${s.vmim.metadata.name} ${phase(s)}: VMI on ${vmi.status?.nodeName}, expected ${expected}`);
  }

  const moments = progressMoments(o.seen.map((s) => s.vmim));
  const recovery = o.faults.map((f) => {
    const ms = recoveryMs(moments, f.restoredAt);
    return { kind: f.kind, detail: f.detail, at: new Date(f.startedAt).toISOString(), outageS: (f.restoredAt - f.startedAt) / 1000, recoveryS: ms === undefined ? null : ms / 1000 };
  });
  const slowRecoveries = recovery.filter((r) => r.recoveryS !== null && r.recoveryS > o.recoveryBoundS);
  const faultsByKind: Record<string, number> = {};
  for (const f of o.faults) faultsByKind[f.kind] = (faultsByKind[f.kind] ?? 0) + 1;

  const violations = [
    ...lost.map((l) => `lost: ${l}`),
    ...neverSeen.map((n) => `lost: ${n} created, never seen, gone at the end without a cancel`),
    ...duplicated.map((d) => `duplicated start: ${d.uid} on ${d.nodes.join(', ')}`),
    ...peaks.exceeded.map((e) => `limit exceeded: ${e}`),
    ...finalizersLeft.map((n) => `finalizer left on final ${n}`),
    ...o.order.violations.map((v) => `order of truth: ${v}`),
    ...misplaced.map((m) => `guest misplaced: ${m}`),
    ...slowRecoveries.map((r) => `recovery ${r.recoveryS} s > ${o.recoveryBoundS} s after ${r.kind} at ${r.at}`),
  ];
  return {
    seed: o.seed,
    migrations: {
      created: o.created,
      succeeded: final.filter((s) => phase(s) === 'Succeeded').length,
      failed: final.filter((s) => phase(s) === 'Failed').length,
      cancelRequested: o.cancelRequested,
      deleted: o.seen.filter((s) => s.deleted).length,
      cancelledUnobserved: o.unseen.filter((u) => u.cancelled).length,
      failureReasons: countBy(final.filter((s) => phase(s) === 'Failed').map((s) => s.vmim.status?.migrationState?.failureReason ?? '?')),
      refusedCallsRetried: o.refused,
    },
    faults: { total: o.faults.length, byKind: faultsByKind },
    lost: lost.length + neverSeen.length,
    duplicated: { count: duplicated.length, startCallsSeen: starts.length, source: 'agent logs: "agent call" lines of POST /start answered 202 (a job started), across agent restarts' },
    limitsExceeded: { count: peaks.exceeded.length, peaksFromPhaseStamps: { cluster: peaks.cluster, outbound: peaks.outbound, inbound: peaks.inbound }, liveSampledPeaks: { cluster: o.livePeak.cluster, outbound: o.livePeak.outbound, inbound: o.livePeak.inbound, overLimitSamples: o.livePeak.exceeded.length }, limits: o.limits },
    finalizersLeftOnFinal: finalizersLeft.length,
    orderOfTruth: { violations: o.order.violations.length, checked: o.order.checked, unsampled: o.order.unsampled },
    guestsMisplacedAtEnd: misplaced.length,
    recovery: { boundS: o.recoveryBoundS, maxS: Math.max(0, ...recovery.map((r) => r.recoveryS ?? 0)), perFault: recovery },
    drainS: o.drainS,
    violationCount: violations.length,
    violations: first(violations, 50),
  };
}

function countBy(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
