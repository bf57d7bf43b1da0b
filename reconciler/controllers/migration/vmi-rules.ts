// What a migration's VMI says about whether the migration may go on, as pure functions.
import type { VirtualMachineInstance } from '../../../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../../../api/schemas/vmim.js';
import { FailureReason } from '../../failure-reasons.js';
import type { Migratability } from '../../migratability/live-migratable.js';
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
