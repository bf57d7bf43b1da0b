// What target choice needs to know of a Node object.
import type { V1Node } from '@kubernetes/client-node';
import type { NodeFacts } from '../scheduling/target-choice.js';
import { taintsOf } from '../scheduling/taints.js';

export function isNodeReady(node: V1Node): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Whether the node carries the drain taint (`key`, effect NoSchedule), as KubeVirt reads it. */
export function hasDrainTaint(node: V1Node | undefined, key: string): boolean {
  return node?.spec?.taints?.some((t) => t.key === key && t.effect === 'NoSchedule') ?? false;
}

/** The drain taint is expressed by `draining` (never tolerated), so it is not among `taints`. */
export function nodeFacts(node: V1Node, hasAgent: boolean, drainTaintKey: string): NodeFacts {
  const isDrainTaint = (t: { key: string; effect: string }) => t.key === drainTaintKey && t.effect === 'NoSchedule';
  return {
    name: node.metadata?.name ?? '',
    labels: node.metadata?.labels ?? {},
    ready: isNodeReady(node),
    unschedulable: node.spec?.unschedulable === true,
    hasAgent,
    draining: hasDrainTaint(node, drainTaintKey),
    taints: taintsOf(node.spec?.taints).filter((t) => !isDrainTaint(t)),
  };
}
