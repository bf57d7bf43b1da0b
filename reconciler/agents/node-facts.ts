// What target choice needs to know of a Node object.
import type { V1Node } from '@kubernetes/client-node';
import type { NodeFacts } from '../scheduling/target-choice.js';

export function isNodeReady(node: V1Node): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export function nodeFacts(node: V1Node, hasAgent: boolean): NodeFacts {
  return {
    name: node.metadata?.name ?? '',
    labels: node.metadata?.labels ?? {},
    ready: isNodeReady(node),
    unschedulable: node.spec?.unschedulable === true,
    hasAgent,
  };
}
