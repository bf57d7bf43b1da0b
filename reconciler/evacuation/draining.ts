// When a node is being drained: it carries the drain taint (kubevirt-config
// migrations.nodeDrainTaintKey, effect NoSchedule, as KubeVirt reads it), or, when the operator
// turned evacuation on cordon on (reconciler --evacuate-on-cordon), it is cordoned. A node that no
// longer exists is not being drained.
import type { V1Node } from '@kubernetes/client-node';
import { hasDrainTaint } from '../agents/node-facts.js';

export function isDraining(node: V1Node | undefined, drainTaintKey: string, evacuateOnCordon: boolean): boolean {
  if (!node) return false;
  return hasDrainTaint(node, drainTaintKey) || (evacuateOnCordon && node.spec?.unschedulable === true);
}
