// Target node choice for one migration: which nodes may receive the VMI, which of them is least
// loaded, and, when none may, a reason a user can act on.
//
// Choices where the issue is silent:
// - The target must carry every label of the VMI's spec.nodeSelector merged with the VMIM's
//   spec.addedNodeSelector; on a key both set, the VMI's value wins (KubeVirt's rule).
// - Load is migrations in flight touching the node (inbound + outbound); ties go to the name, so
//   the choice is deterministic and two reconciles of the same state agree.
// - A node that is eligible but at its inbound limit is "busy", not ineligible: the migration waits
//   for a slot (no unschedulable timer), as opposed to waiting for a node to become eligible.
// - A node being drained (the drain taint, nodeDrainTaintKey NoSchedule) or cordoned
//   (spec.unschedulable) receives no VMI, whatever the VMI tolerates. Other NoSchedule/NoExecute
//   taints repel a VMI that does not tolerate them (spec.tolerations, as KubeVirt's target pod
//   carries them; taints.ts).
// - Reasons list each node when there are few (≤ 6); otherwise they are grouped, with a few names.
import { describeTaint, untoleratedTaints, type NodeTaint, type Toleration } from './taints.js';

export interface NodeFacts {
  name: string;
  labels: Readonly<Record<string, string>>;
  ready: boolean;
  unschedulable: boolean;
  hasAgent: boolean;
  /** Carries the drain taint: its VMIs are being evacuated. */
  draining?: boolean;
  /** NoSchedule/NoExecute taints are judged against the VMI's tolerations; the drain taint is not here. */
  taints?: readonly NodeTaint[];
}

export interface NodeLoad {
  inbound: number;
  outbound: number;
}

export interface TargetRequest {
  sourceNode: string;
  vmiNodeSelector?: Readonly<Record<string, string>>;
  addedNodeSelector?: Readonly<Record<string, string>>;
  tolerations?: readonly Toleration[];
}

export interface LoadView {
  load(node: string): NodeLoad;
  inboundLimit: number;
}

export type TargetChoice =
  | { ok: true; node: string }
  /** `unschedulable`: no node is eligible at all (as opposed to eligible nodes all being busy). */
  | { ok: false; unschedulable: boolean; reason: string };

const LISTED_NODES = 6;
const NAMES_PER_GROUP = 3;

/** The VMI's selector wins over the migration's added selector on a shared key. */
export function effectiveSelector(request: TargetRequest): Record<string, string> {
  return { ...request.addedNodeSelector, ...request.vmiNodeSelector };
}

/** Why a node may not receive the VMI, as short phrases; empty when it may. */
export function ineligibility(node: NodeFacts, sourceNode: string, selector: Readonly<Record<string, string>>, tolerations: readonly Toleration[] = []): string[] {
  const reasons: string[] = [];
  if (node.name === sourceNode) reasons.push('is the source');
  if (!node.ready) reasons.push('not Ready');
  if (node.unschedulable) reasons.push('is unschedulable');
  if (node.draining) reasons.push('is being drained');
  if (!node.hasAgent) reasons.push('has no agent');
  for (const taint of untoleratedTaints(node.taints, tolerations)) reasons.push(describeTaint(taint));
  for (const [key, value] of Object.entries(selector)) {
    if (node.labels[key] !== value) reasons.push(`lacks label ${key}=${value}`);
  }
  return reasons;
}

function byLoadThenName(view: LoadView): (a: string, b: string) => number {
  const total = (name: string) => {
    const load = view.load(name);
    return load.inbound + load.outbound;
  };
  return (a, b) => total(a) - total(b) || (a < b ? -1 : a > b ? 1 : 0);
}

function summarise(total: number, rejected: Array<{ name: string; reasons: string[] }>): string {
  const head = `0/${total} nodes eligible`;
  if (rejected.length === 0) return `${head}: no nodes`;
  if (rejected.length <= LISTED_NODES) {
    return `${head}: ${rejected.map((n) => `${n.name} ${n.reasons.join(', ')}`).join('; ')}`;
  }
  const groups = new Map<string, string[]>();
  for (const node of rejected) {
    for (const reason of node.reasons) groups.set(reason, [...(groups.get(reason) ?? []), node.name]);
  }
  const parts = [...groups.entries()]
    .sort((a, b) => b[1].length - a[1].length)
    .map(([reason, names]) => {
      const shown = names.slice(0, NAMES_PER_GROUP).join(', ') + (names.length > NAMES_PER_GROUP ? ', …' : '');
      return `${reason}: ${names.length} node${names.length === 1 ? '' : 's'} (${shown})`;
    });
  return `${head}: ${parts.join('; ')}`;
}

export function chooseTarget(nodes: readonly NodeFacts[], request: TargetRequest, view: LoadView): TargetChoice {
  const selector = effectiveSelector(request);
  const eligible: string[] = [];
  const rejected: Array<{ name: string; reasons: string[] }> = [];
  for (const node of nodes) {
    const reasons = ineligibility(node, request.sourceNode, selector, request.tolerations);
    if (reasons.length === 0) eligible.push(node.name);
    else rejected.push({ name: node.name, reasons });
  }
  if (eligible.length === 0) {
    rejected.sort((a, b) => (a.name < b.name ? -1 : 1));
    return { ok: false, unschedulable: true, reason: summarise(nodes.length, rejected) };
  }
  const free = eligible.filter((name) => view.load(name).inbound < view.inboundLimit).sort(byLoadThenName(view));
  const best = free[0];
  if (best === undefined) {
    const names = [...eligible].sort();
    const shown = names.slice(0, LISTED_NODES).join(', ') + (names.length > LISTED_NODES ? ', …' : '');
    return {
      ok: false,
      unschedulable: false,
      reason: `all ${eligible.length} eligible nodes are at the inbound limit (${view.inboundLimit}): ${shown}`,
    };
  }
  return { ok: true, node: best };
}
