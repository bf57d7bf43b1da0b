// History: keep the newest N finished migrations per VMI (finishedMigrationsPerVMI, default 5, as
// KubeVirt keeps 5) and delete the older ones.
//
// Choices: "newest" is by end time (migrationState.endTimestamp, else the time the final phase was
// reached, else creation); ties by name. Migrations not final, or already being deleted, are never
// chosen and do not count towards N.
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { isFinal } from '../phases.js';

function endedAt(vmim: VirtualMachineInstanceMigration): number {
  const status = vmim.status;
  const finalStamp = status?.phaseTransitionTimestamps?.find((p) => isFinal(p.phase))?.phaseTransitionTimestamp;
  for (const candidate of [status?.migrationState?.endTimestamp, finalStamp, vmim.metadata.creationTimestamp]) {
    const ms = candidate ? Date.parse(candidate) : NaN;
    if (!Number.isNaN(ms)) return ms;
  }
  return 0;
}

/** The finished migrations to delete so that each VMI keeps at most `keep`. */
export function migrationsToPrune(
  vmims: readonly VirtualMachineInstanceMigration[],
  keep: number,
): VirtualMachineInstanceMigration[] {
  const byVmi = new Map<string, VirtualMachineInstanceMigration[]>();
  for (const vmim of vmims) {
    if (!isFinal(vmim.status?.phase) || vmim.metadata.deletionTimestamp) continue;
    const key = `${vmim.metadata.namespace ?? ''}/${vmim.spec.vmiName}`;
    byVmi.set(key, [...(byVmi.get(key) ?? []), vmim]);
  }
  const prune: VirtualMachineInstanceMigration[] = [];
  for (const finished of byVmi.values()) {
    finished.sort((a, b) => endedAt(b) - endedAt(a) || ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
    prune.push(...finished.slice(Math.max(0, keep)));
  }
  return prune;
}
