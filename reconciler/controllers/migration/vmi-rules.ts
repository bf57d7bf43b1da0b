// What a migration's VMI says about whether the migration may go on, as pure functions.
import type { VirtualMachineInstance } from '../../../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../../../api/schemas/vmim.js';
import { FailureReason } from '../../failure-reasons.js';
import { LIVE_MIGRATABLE, type Migratability } from '../../migratability/live-migratable.js';
import { isFinal } from '../../phases.js';

/** KubeVirt's text for a migration whose VMI stopped or vanished under it. */
export const VMI_SHUTDOWN_MESSAGE = 'Migration failed vmi shutdown during migration.';

export interface MigrationBlocker {
  reason: FailureReason;
  message: string;
}

/** The VMI is gone, finished or being deleted: there is nothing left to migrate. */
export function vmiShutDown(vmi: VirtualMachineInstance | undefined): boolean {
  if (!vmi) return true;
  if (vmi.metadata.deletionTimestamp) return true;
  const phase = vmi.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/** Why this migration cannot go on (before data moves), read from its VMI; undefined if it can. */
export function blockerOf(
  vmim: VirtualMachineInstanceMigration,
  vmi: VirtualMachineInstance | undefined,
  migratability: (vmi: VirtualMachineInstance) => Pick<Migratability, 'condition'>,
): MigrationBlocker | undefined {
  const ref = `VMI ${vmim.metadata.namespace}/${vmim.spec.vmiName}`;
  if (!vmi) return { reason: FailureReason.VmiGone, message: `${ref} does not exist` };
  if (vmiShutDown(vmi) && vmim.status?.phase !== undefined) return { reason: FailureReason.VmiGone, message: VMI_SHUTDOWN_MESSAGE };
  if (vmi.status?.phase !== 'Running' || !vmi.status.nodeName) {
    return { reason: FailureReason.VmiGone, message: `${ref} is not running (phase ${vmi.status?.phase ?? 'unknown'})` };
  }
  const source = vmim.status?.migrationState?.sourceNode;
  if (source && vmi.status.nodeName !== source && !isFinal(vmim.status?.phase)) {
    return { reason: FailureReason.VmiGone, message: `${ref} moved to ${vmi.status.nodeName} (the migration started from ${source})` };
  }
  const { condition } = migratability(vmi);
  if (condition.status === 'False') {
    return { reason: FailureReason.NotMigratable, message: `Cannot migrate VMI, Reason: ${condition.reason}, Message: ${condition.message}` };
  }
  return undefined;
}

/** Why a queued migration waits for its VMI: condition reasons of `Admitted=False`. */
export type VmiWaitReason = 'VMINotRunning' | 'VMINotEvaluated';

export type VmiReadiness =
  /** The VMI runs on `sourceNode` and is LiveMigratable=True: the migration may take a slot. */
  | { kind: 'ready'; sourceNode: string }
  /** Not yet: the migration keeps its place and waits (bounded by unschedulableTimeout). */
  | { kind: 'wait'; reason: VmiWaitReason; message: string }
  /** Never: the migration fails now. */
  | { kind: 'fail'; blocker: MigrationBlocker };

/**
 * Whether a queued migration's VMI can be migrated now, as KubeVirt admits it: a VMI that has not
 * started yet (no phase, Pending, Scheduling, Scheduled, Unknown) or whose LiveMigratable condition
 * is not there yet (or Unknown) is waited for; a finished or vanished one, or LiveMigratable=False
 * (KubeVirt's admission text), ends the migration. The condition is read from the VMI, as users
 * see it, so a migration goes on exactly when `kubectl get vmi` shows the VMI Running and migratable.
 */
export function readinessOf(vmim: VirtualMachineInstanceMigration, vmi: VirtualMachineInstance | undefined): VmiReadiness {
  const ref = `VMI ${vmim.metadata.namespace}/${vmim.spec.vmiName}`;
  if (!vmi) return { kind: 'fail', blocker: { reason: FailureReason.VmiGone, message: `${ref} does not exist` } };
  if (vmiShutDown(vmi)) return { kind: 'fail', blocker: { reason: FailureReason.VmiGone, message: VMI_SHUTDOWN_MESSAGE } };
  const phase = vmi.status?.phase;
  const node = vmi.status?.nodeName;
  if (phase !== 'Running' || !node) {
    return { kind: 'wait', reason: 'VMINotRunning', message: `${ref} is not running yet (phase ${phase ?? '<none>'}); the migration starts once it runs` };
  }
  const condition = vmi.status?.conditions?.find((c) => c.type === LIVE_MIGRATABLE);
  if (condition?.status === 'False') {
    return {
      kind: 'fail',
      blocker: { reason: FailureReason.NotMigratable, message: `Cannot migrate VMI, Reason: ${condition.reason ?? ''}, Message: ${condition.message ?? ''}` },
    };
  }
  if (condition?.status !== 'True') {
    return {
      kind: 'wait',
      reason: 'VMINotEvaluated',
      message: `${ref} has not been evaluated for live migration yet (${LIVE_MIGRATABLE} ${condition ? condition.status : 'absent'}); the migration starts once it is LiveMigratable`,
    };
  }
  return { kind: 'ready', sourceNode: node };
}
