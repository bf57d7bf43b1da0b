// The VMI status write that publishes a migratability result, or nothing when the VMI already
// shows it (so a resync or a PVC event that changes nothing writes nothing).
import type { Condition } from '../../api/schemas/migration-state.js';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { LIVE_MIGRATABLE, type Migratability } from './live-migratable.js';

export interface MigratabilityPatch {
  conditions: Condition[];
  migrationMethod: Migratability['migrationMethod'];
}

function sameCondition(a: Condition | undefined, b: Condition): boolean {
  return a !== undefined && a.status === b.status && (a.reason ?? '') === (b.reason ?? '') && (a.message ?? '') === (b.message ?? '');
}

export function migratabilityPatch(vmi: VirtualMachineInstance, result: Migratability, now: string): MigratabilityPatch | undefined {
  const conditions = vmi.status?.conditions ?? [];
  const current = conditions.find((c) => c.type === LIVE_MIGRATABLE);
  if (sameCondition(current, result.condition) && vmi.status?.migrationMethod === result.migrationMethod) return undefined;
  const next: Condition = {
    ...result.condition,
    // The transition time moves only when the status flips, as Kubernetes conditions do.
    lastTransitionTime: current?.status === result.condition.status ? (current.lastTransitionTime ?? now) : now,
  };
  return {
    conditions: [...conditions.filter((c) => c.type !== LIVE_MIGRATABLE), next],
    migrationMethod: result.migrationMethod,
  };
}
