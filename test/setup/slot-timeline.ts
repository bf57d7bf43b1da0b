// The limits as the reconciler's own records show them: each finished migration held a slot from
// its `Scheduled` timestamp to its final one (millisecond RFC 3339, written by the reconciler), so
// the most slots ever held at once follow from the timestamps, short overruns included — where a
// sampler polling the API every 100 ms would miss them.
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';

export interface SlotPeaks {
  cluster: number;
  outbound: number;
  inbound: number;
  /** Migrations that held a slot (reached Scheduled); the others never counted. */
  counted: number;
}

interface Edge {
  at: number;
  delta: 1 | -1;
  source: string;
  target: string;
}

function stamp(vmim: VirtualMachineInstanceMigration, phases: readonly string[]): number | undefined {
  const entry = vmim.status?.phaseTransitionTimestamps?.find((p) => phases.includes(p.phase));
  return entry ? Date.parse(entry.phaseTransitionTimestamp) : undefined;
}

/** Peak slot use from final migrations; throws on one that is not final, since its slot has no end. */
export function slotPeaks(migrations: readonly VirtualMachineInstanceMigration[]): SlotPeaks {
  const edges: Edge[] = [];
  let counted = 0;
  for (const m of migrations) {
    const start = stamp(m, ['Scheduled']);
    if (start === undefined) continue;
    const end = stamp(m, ['Succeeded', 'Failed']);
    if (end === undefined) throw new Error(`${m.metadata.name}: not final (phase ${m.status?.phase}), its slot has no end`);
    const source = m.status?.migrationState?.sourceNode ?? '?';
    const target = m.status?.migrationState?.targetNode ?? '?';
    edges.push({ at: start, delta: 1, source, target }, { at: end, delta: -1, source, target });
    counted++;
  }
  // At one instant a release comes before a take: the reconciler frees a slot before reusing it.
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  const outbound = new Map<string, number>();
  const inbound = new Map<string, number>();
  const peaks: SlotPeaks = { cluster: 0, outbound: 0, inbound: 0, counted };
  let cluster = 0;
  for (const edge of edges) {
    cluster += edge.delta;
    outbound.set(edge.source, (outbound.get(edge.source) ?? 0) + edge.delta);
    inbound.set(edge.target, (inbound.get(edge.target) ?? 0) + edge.delta);
    peaks.cluster = Math.max(peaks.cluster, cluster);
    peaks.outbound = Math.max(peaks.outbound, outbound.get(edge.source) ?? 0);
    peaks.inbound = Math.max(peaks.inbound, inbound.get(edge.target) ?? 0);
  }
  return peaks;
}
