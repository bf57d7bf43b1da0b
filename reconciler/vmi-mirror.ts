// Mirrors a migration's state onto its VMI: `VMI.status.migrationState` is the VMIM's
// `status.migrationState`, and after success `VMI.status.nodeName` is the target.
//
// Why the guard: the VMI holds the state of its newest migration only. A slow or restarted
// reconciler must not let an older migration overwrite the state of a newer one, so a mirror is
// refused when the VMI shows a different migration that has not completed, and a final migration
// never replaces a different one (the VMI then shows a newer migration than it).
import type { VirtualMachineInstance } from '../api/schemas/vmi.js';
import { jsonEqual } from '../common/json-equal.js';
import type { MigrationStatus } from './phases.js';

export type VmiStatus = NonNullable<VirtualMachineInstance['status']>;

export type MirrorResult =
  | { ok: true; status: VmiStatus; changed: boolean }
  | { ok: false; error: string };

export function mirrorToVmi(vmiStatus: VmiStatus | undefined, migration: MigrationStatus): MirrorResult {
  const current = vmiStatus ?? {};
  const state = migration.migrationState;
  if (state?.migrationUid === undefined) return { ok: false, error: 'the migration has no UID yet' };
  const shown = current.migrationState;
  if (shown?.migrationUid !== undefined && shown.migrationUid !== state.migrationUid) {
    if (shown.completed !== true) return { ok: false, error: `the VMI shows migration ${shown.migrationUid}, still in progress` };
    // Only a migration being handed to the nodes replaces an ended one: a migration that is
    // already final is older than the one the VMI shows (a late repair must not move the VMI back).
    if (migration.phase === 'Succeeded' || migration.phase === 'Failed') {
      return { ok: false, error: `the VMI shows migration ${shown.migrationUid}, newer than this final one` };
    }
  }
  const next: VmiStatus = { ...current, migrationState: { ...state } };
  if (migration.phase === 'Succeeded' && state.targetNode !== undefined) next.nodeName = state.targetNode;
  const changed = !jsonEqual(next.migrationState, current.migrationState) || next.nodeName !== current.nodeName;
  return { ok: true, status: changed ? next : current, changed };
}
