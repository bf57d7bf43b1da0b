// Placement of a new VMI: which nodes may run it, which of them is least loaded, and, when none
// may, a message in the scheduler's style (`0/3 nodes are available: …`) for the VMI's
// PodScheduled=False condition.
//
// Choices where the issue is silent:
// - Eligible: Ready, not cordoned, not being drained (the drain taint; tolerations do not open a
//   draining node: the VMI would be evacuated at once), no NoSchedule/NoExecute taint the VMI's
//   spec.tolerations do not tolerate (kube-scheduler's rule for KubeVirt's launcher pods), a live agent, every label of spec.nodeSelector, the required
//   node-affinity terms, and the guest's memory fits in what the agent reports for guests minus
//   the memory of the VMIs already on the node or migrating to it. A node whose agent reports no
//   guest memory is not eligible (we cannot know it fits).
// - Least loaded: fewest VMIs, then the most free memory, then the name (deterministic, so two
//   reconciles of the same state agree).
// - Reasons are grouped by phrase with a count, as the scheduler's message is.
import { formatBinaryQuantity } from '../../api/quantity.js';
import { matchesRequiredAffinity } from './node-affinity.js';
import type { NodeFacts } from './target-choice.js';
import { describeTaint, tolerationsOf, untoleratedTaints } from './taints.js';

export interface PlacementNode extends NodeFacts {
  /** Memory for guests as the node's agent reports it; undefined when it reports none. */
  guestMemoryBytes?: number;
  /** Memory of the VMIs on the node or on their way to it. */
  usedMemoryBytes: number;
  vmiCount: number;
}

export interface PlacementRequest {
  /** The VMI's spec: nodeSelector and affinity are read from it. */
  spec: Readonly<Record<string, unknown>> | undefined;
  memoryBytes: number;
}

export type Placement = { ok: true; node: string } | { ok: false; reason: string };

function freeBytes(node: PlacementNode): number {
  return (node.guestMemoryBytes ?? 0) - node.usedMemoryBytes;
}

/** Why the node may not run the VMI, as short phrases; empty when it may. */
export function placementIneligibility(node: PlacementNode, request: PlacementRequest): string[] {
  const reasons: string[] = [];
  if (!node.ready) reasons.push('not Ready');
  if (node.unschedulable) reasons.push('unschedulable');
  if (node.draining) reasons.push('being drained');
  for (const taint of untoleratedTaints(node.taints, tolerationsOf(request.spec))) reasons.push(describeTaint(taint));
  if (!node.hasAgent) reasons.push('no live agent');
  const selector = request.spec?.nodeSelector;
  if (typeof selector === 'object' && selector !== null) {
    for (const [key, value] of Object.entries(selector)) {
      if (node.labels[key] !== value) reasons.push(`lacks label ${key}=${String(value)}`);
    }
  }
  if (!matchesRequiredAffinity(request.spec, node)) reasons.push("didn't match the VMI's node affinity");
  if (node.guestMemoryBytes === undefined) reasons.push('agent reports no guest memory');
  else if (freeBytes(node) < request.memoryBytes) reasons.push(`insufficient memory (needs ${formatBinaryQuantity(request.memoryBytes)})`);
  return reasons;
}

function summarise(total: number, rejected: ReadonlyArray<{ name: string; reasons: string[] }>): string {
  const groups = new Map<string, number>();
  for (const node of rejected) for (const reason of node.reasons) groups.set(reason, (groups.get(reason) ?? 0) + 1);
  const parts = [...groups.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([reason, count]) => `${count} node${count === 1 ? '' : 's'} ${reason}`);
  return `0/${total} nodes are available${parts.length > 0 ? `: ${parts.join(', ')}` : ''}.`;
}

export function choosePlacement(nodes: readonly PlacementNode[], request: PlacementRequest): Placement {
  const eligible: PlacementNode[] = [];
  const rejected: Array<{ name: string; reasons: string[] }> = [];
  for (const node of nodes) {
    const reasons = placementIneligibility(node, request);
    if (reasons.length === 0) eligible.push(node);
    else rejected.push({ name: node.name, reasons });
  }
  eligible.sort((a, b) => a.vmiCount - b.vmiCount || freeBytes(b) - freeBytes(a) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const best = eligible[0];
  return best ? { ok: true, node: best.name } : { ok: false, reason: summarise(nodes.length, rejected) };
}
