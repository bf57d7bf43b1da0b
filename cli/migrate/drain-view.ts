// What `kubectl migrate drain NODE --wait` shows and when it stops (pure): one row per VMI that is
// on the node or was evacuated from it — its evacuation's live line, or why it cannot leave — and
// whether the node is empty (exit 0) or only VMIs that cannot leave remain (exit 1, naming them).
import { EVACUATION_ANNOTATION, EVACUATION_BLOCKED_CONDITION } from '../../api/names.js';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { describeMigration } from '../progress.js';
import { renderTable } from './format.js';

export interface DrainView {
  text: string;
  /** The node holds no VMI. */
  empty: boolean;
  /** Set when every VMI left on the node cannot leave and nothing is in flight: their names and why. */
  stuck?: string[];
}

const key = (namespace: string | undefined, name: string | undefined) => `${namespace ?? ''}/${name ?? ''}`;
const isFinal = (m: VirtualMachineInstanceMigration) => m.status?.phase === 'Succeeded' || m.status?.phase === 'Failed';

function newestFirst(a: VirtualMachineInstanceMigration, b: VirtualMachineInstanceMigration): number {
  return (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '') || (b.metadata.name ?? '').localeCompare(a.metadata.name ?? '');
}

export function drainView(node: string, vmis: readonly VirtualMachineInstance[], vmims: readonly VirtualMachineInstanceMigration[]): DrainView {
  const evacuations = vmims.filter((m) => m.metadata.annotations?.[EVACUATION_ANNOTATION] === node);
  const byVmi = new Map<string, VirtualMachineInstanceMigration[]>();
  for (const m of [...vmims].sort(newestFirst)) {
    const k = key(m.metadata.namespace, m.spec.vmiName);
    byVmi.set(k, [...(byVmi.get(k) ?? []), m]);
  }
  const live = (v: VirtualMachineInstance) => v.status?.phase !== 'Succeeded' && v.status?.phase !== 'Failed';
  const onNode = vmis.filter((v) => v.status?.nodeName === node && live(v));
  const moved = new Set(evacuations.filter((m) => m.status?.phase === 'Succeeded').map((m) => key(m.metadata.namespace, m.spec.vmiName)));
  const rows: string[][] = [];
  const stuck: string[] = [];
  let inFlight = false;
  for (const vmi of onNode) {
    const k = key(vmi.metadata.namespace, vmi.metadata.name);
    const own = byVmi.get(k) ?? [];
    const running = own.find((m) => !isFinal(m));
    const blocked = vmi.status?.conditions?.find((c) => c.type === EVACUATION_BLOCKED_CONDITION && c.status === 'True');
    let state: string;
    if (running) {
      inFlight = true;
      state = describeMigration(running, 20);
    } else if (blocked) {
      state = `cannot leave: ${blocked.reason}`;
      stuck.push(`${k} (${blocked.message ?? blocked.reason})`);
    } else {
      inFlight = true;
      const last = own.find((m) => m.metadata.annotations?.[EVACUATION_ANNOTATION] === node);
      state = last?.status?.phase === 'Failed' ? `to be retried (${describeMigration(last)})` : vmi.spec?.evictionStrategy === 'External' ? 'left to an external controller' : 'waiting for its evacuation';
    }
    rows.push([k, node, state]);
  }
  for (const k of [...moved].sort()) {
    if (onNode.some((v) => key(v.metadata.namespace, v.metadata.name) === k)) continue;
    const vmi = vmis.find((v) => key(v.metadata.namespace, v.metadata.name) === k);
    rows.push([k, vmi?.status?.nodeName ?? '?', 'evacuated']);
  }
  const header = `node ${node}: ${onNode.length} VMI${onNode.length === 1 ? '' : 's'} left, ${moved.size} evacuated`;
  const text = rows.length === 0 ? `${header}\n` : `${header}\n${renderTable(['VMI', 'NODE', 'EVACUATION'], rows)}\n`;
  return { text, empty: onNode.length === 0, ...(onNode.length > 0 && !inFlight ? { stuck } : {}) };
}
