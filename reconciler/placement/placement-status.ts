// What placement writes on a VMI, as pure functions: which VMIs await a node, the memory the
// VMIs already take on each node, and the status patch for a decision.
//
// Phases (KubeVirt's names): a VMI placed in one pass moves Pending → Scheduling → Scheduled in one
// write, each phase stamped (Pending at the VMI's creation time); one no node fits stays
// Scheduling with PodScheduled=False (reason Unschedulable, the placement message) and
// Ready=False, and is looked at again when nodes, agents or other VMIs change.
import type { Condition } from '../../api/schemas/migration-state.js';
import { FINAL_VMI_PHASES, type VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { EXTERNAL_PLACEMENT, PLACEMENT_ANNOTATION, phaseStamps, stampPhases, withCondition, withoutCondition } from '../../api/vmi-status.js';
import type { Placement } from '../scheduling/placement.js';

export const POD_SCHEDULED = 'PodScheduled';

/** A VMI without a node, not final, not being deleted. */
export function awaitsPlacement(vmi: VirtualMachineInstance): boolean {
  const phase = vmi.status?.phase;
  if (vmi.metadata.deletionTimestamp) return false;
  if (vmi.metadata.annotations?.[PLACEMENT_ANNOTATION] === EXTERNAL_PLACEMENT) return false;
  if (vmi.status?.nodeName) return false;
  return phase === undefined || phase === 'Pending' || phase === 'Scheduling';
}

export interface NodeUsage {
  usedMemoryBytes: number;
  vmiCount: number;
}

/**
 * Memory taken per node: every non-final VMI on it, and every VMI migrating to it (the target
 * holds the guest's memory from the hand-off on).
 */
export function usageByNode(vmis: readonly VirtualMachineInstance[], memoryOf: (vmi: VirtualMachineInstance) => number): Map<string, NodeUsage> {
  const usage = new Map<string, NodeUsage>();
  const add = (node: string, bytes: number) => {
    const now = usage.get(node) ?? { usedMemoryBytes: 0, vmiCount: 0 };
    usage.set(node, { usedMemoryBytes: now.usedMemoryBytes + bytes, vmiCount: now.vmiCount + 1 });
  };
  for (const vmi of vmis) {
    const status = vmi.status;
    if (!status?.nodeName || (status.phase !== undefined && FINAL_VMI_PHASES.includes(status.phase))) continue;
    add(status.nodeName, memoryOf(vmi));
    const migration = status.migrationState;
    if (migration?.targetNode && migration.targetNode !== status.nodeName && !migration.completed && !migration.failed) add(migration.targetNode, memoryOf(vmi));
  }
  return usage;
}

export function placementPatch(vmi: VirtualMachineInstance, placement: Placement, now: string): Record<string, unknown> | undefined {
  const status = vmi.status ?? {};
  const conditions: Condition[] = status.conditions ?? [];
  const created = vmi.metadata.creationTimestamp ?? now;
  const pending = stampPhases(phaseStamps(vmi), ['Pending'], created);
  if (placement.ok) {
    const cleared = withoutCondition(conditions, POD_SCHEDULED);
    return {
      phase: 'Scheduled',
      nodeName: placement.node,
      phaseTransitionTimestamps: stampPhases(pending, ['Scheduling', 'Scheduled'], now),
      ...(cleared ? { conditions: cleared } : {}),
    };
  }
  const unschedulable: Condition = { type: POD_SCHEDULED, status: 'False', reason: 'Unschedulable', message: placement.reason };
  const withScheduled = withCondition(conditions, unschedulable, now);
  const next = withScheduled ?? conditions;
  const withReady = withCondition(next, { type: 'Ready', status: 'False', reason: 'GuestNotRunning', message: 'Guest VM is not reported as running' }, now);
  if (status.phase === 'Scheduling' && !withScheduled && !withReady) return undefined;
  return {
    phase: 'Scheduling',
    phaseTransitionTimestamps: stampPhases(pending, ['Scheduling'], now),
    conditions: withReady ?? next,
  };
}
