// The order-of-truth invariant, checked by every integration test that waits for a migration to
// end: when a VMIM is seen final, its VMI — read right after, with no wait — already says the same.
// (KubeVirt's order: the VMI is written first, the VMIM second.) A migration that ended before it
// was handed to the nodes (no TargetReady) leaves the VMI's record alone, or, if the VMI was told
// of a hand-off whose VMIM write was lost, leaves it agreeing.
import { expect } from '@jest/globals';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { getVmi, type TestSystem } from './system.js';

/** What the VMI says that contradicts the final VMIM, or undefined when they agree. */
export function disagreement(vmim: VirtualMachineInstanceMigration, vmi: VirtualMachineInstance): string | undefined {
  const status = vmim.status ?? {};
  const shown = vmi.status?.migrationState;
  const uid = vmim.metadata.uid;
  // Hand-off: the VMI names the migration before the VMIM says Running.
  if (status.phase === 'Running') return shown?.migrationUid === uid ? undefined : `the VMIM is Running but the VMI shows migration ${shown?.migrationUid ?? 'none'}`;
  if (status.phase !== 'Succeeded' && status.phase !== 'Failed') return undefined;
  const handedOff = (status.phaseTransitionTimestamps ?? []).some((p) => p.phase === 'TargetReady');
  // Before the hand-off the VMI is not told, unless a hand-off's VMI write landed and its VMIM
  // write did not: then the VMI must still end agreeing.
  if (!handedOff && shown?.migrationUid !== uid) return undefined;
  if (shown?.migrationUid !== uid) return `the VMI shows migration ${shown?.migrationUid ?? 'none'}, not ${vmim.metadata.name} (${uid})`;
  const state = status.migrationState ?? {};
  for (const key of ['completed', 'failed', 'failureReason', 'abortRequested', 'abortStatus', 'endTimestamp', 'targetNode'] as const) {
    if (JSON.stringify(shown?.[key]) !== JSON.stringify(state[key])) return `VMI migrationState.${key} is ${JSON.stringify(shown?.[key])}, the VMIM says ${JSON.stringify(state[key])}`;
  }
  if (status.phase === 'Succeeded' && vmi.status?.nodeName !== state.targetNode) return `VMI nodeName is ${vmi.status?.nodeName}, the VMIM says it moved to ${state.targetNode}`;
  return undefined;
}

/** Reads the VMI at once and expects it to agree with the Running or final VMIM just seen. */
export async function expectVmiAgrees(system: TestSystem, vmim: VirtualMachineInstanceMigration): Promise<void> {
  const vmi = await getVmi(system, vmim.spec.vmiName);
  expect(disagreement(vmim, vmi)).toBeUndefined();
}
