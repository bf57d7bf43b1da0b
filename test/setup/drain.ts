// Node drain from a test's side: taint, cordon and their undoing, as an operator (or the plugin)
// does them, and the evacuation migrations read back.
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type CoreV1Event, type V1Taint } from '@kubernetes/client-node';
import { EVACUATION_ANNOTATION } from '../../api/names.js';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import type { TestSystem } from './system.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
export const DRAIN_TAINT = { key: 'kubevirt.io/drain', value: 'draining', effect: 'NoSchedule' };

async function taints(core: CoreV1Api, node: string) {
  return (await core.readNode({ name: node })).spec?.taints ?? [];
}

/** Puts `taint` on the node (replacing one of the same key), as `kubectl taint` does. */
export async function putTaint(system: TestSystem, node: string, taint: V1Taint): Promise<void> {
  const others = (await taints(system.core, node)).filter((t) => t.key !== taint.key);
  await system.core.patchNode({ name: node, body: { spec: { taints: [...others, taint] } } }, mergePatch);
}

export async function removeTaint(system: TestSystem, node: string, key: string): Promise<void> {
  const others = (await taints(system.core, node)).filter((t) => t.key !== key);
  await system.core.patchNode({ name: node, body: { spec: { taints: others } } }, mergePatch);
}

export const taintForDrain = (system: TestSystem, node: string): Promise<void> => putTaint(system, node, DRAIN_TAINT);
export const removeDrainTaint = (system: TestSystem, node: string): Promise<void> => removeTaint(system, node, DRAIN_TAINT.key);

export async function setCordon(system: TestSystem, node: string, unschedulable: boolean): Promise<void> {
  await system.core.patchNode({ name: node, body: { spec: { unschedulable } } }, mergePatch);
}

export function isEvacuation(m: VirtualMachineInstanceMigration, node?: string): boolean {
  const from = m.metadata.annotations?.[EVACUATION_ANNOTATION];
  return from !== undefined && (node === undefined || from === node);
}

export function isFinal(m: VirtualMachineInstanceMigration): boolean {
  return m.status?.phase === 'Succeeded' || m.status?.phase === 'Failed';
}

/** The Events recorded about one VMI of the test namespace. */
export async function vmiEvents(system: TestSystem, vmi: string): Promise<CoreV1Event[]> {
  const list = await system.core.listNamespacedEvent({ namespace: system.ns, fieldSelector: `involvedObject.name=${vmi},involvedObject.kind=VirtualMachineInstance` });
  return list.items;
}

/** When a migration reached `phase` (ms), from the reconciler's own timestamps. */
export function reached(m: VirtualMachineInstanceMigration, phase: string): number {
  const entry = m.status?.phaseTransitionTimestamps?.find((p) => p.phase === phase);
  if (!entry) throw new Error(`${m.metadata.name} never reached ${phase} (phases: ${(m.status?.phaseTransitionTimestamps ?? []).map((p) => p.phase).join(',')})`);
  return Date.parse(entry.phaseTransitionTimestamp);
}
