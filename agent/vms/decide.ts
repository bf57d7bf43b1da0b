// The agent's VM lifecycle as one pure decision per VMI key: given the VMI as the cache has it
// (undefined when gone), the VM as the host has it, and this node, what to do next. The
// controller applies one action and looks again (level-triggered): a restart at any point
// resumes from what the API server and the hypervisor say, never from memory.
//
// Choices where the issue is silent:
// - Only VMIs whose status.nodeName is this node are ours. A VM of ours whose VMI is on another
//   node and not migrating here is a stale copy: released. An incoming migration's VM is never
//   touched (the migration owns it until the reconciler moves status.nodeName).
// - The finalizer is added before the first start, so a VMI that ever had a VM here cannot vanish
//   before this node confirmed the VM is gone. A VMI adopted already Running gets no finalizer:
//   deleting it stops its VM as an orphan.
// - A VMI annotated `live-migration.io/placement: external` is run by someone else: no action.
// - Phases written: Running (with Ready=True) once the VM runs; Succeeded or Failed (with the
//   reason) when it stops on its own, and once that is in the cache the stopped VM is released
//   (libvirt: undefined). A final phase is never left.
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { FINAL_VMI_PHASES } from '../../api/schemas/vmi.js';
import { EXTERNAL_PLACEMENT, PLACEMENT_ANNOTATION, VM_FINALIZER } from '../../api/vmi-status.js';
import type { VmInfo } from './vm-host.js';

export type VmAction =
  | { kind: 'none' }
  | { kind: 'add-finalizer' }
  | { kind: 'start' }
  | { kind: 'adopt' }
  | { kind: 'report'; phase: 'Running' | 'Succeeded' | 'Failed'; reason?: string }
  | { kind: 'shutdown' }
  | { kind: 'remove-finalizer' }
  | { kind: 'release' }
  /** The VM is of a VMI that is not in the cache: confirm with a live read before shutting it down. */
  | { kind: 'shutdown-orphan' };

const NONE: VmAction = { kind: 'none' };

function hasFinalizer(vmi: VirtualMachineInstance): boolean {
  return vmi.metadata.finalizers?.includes(VM_FINALIZER) ?? false;
}

/** A migration out of this node in flight: the VM may be gone from here before the VMI moves. */
function isOutgoing(vmi: VirtualMachineInstance, node: string): boolean {
  const m = vmi.status?.migrationState;
  return m?.sourceNode === node && !!m.targetNode && m.targetNode !== node && !m.completed && !m.failed;
}

function isIncoming(vmi: VirtualMachineInstance, node: string): boolean {
  const m = vmi.status?.migrationState;
  return m?.targetNode === node && !m.completed && !m.failed;
}

export function decideVm(node: string, vmi: VirtualMachineInstance | undefined, vm: VmInfo | undefined, adoptsReportedVms: boolean): VmAction {
  // A VM started for another VMI of the same name is an orphan, whatever this VMI says.
  if (vm && vmi && vm.uid !== vmi.metadata.uid) return vm.state === 'Running' ? { kind: 'shutdown-orphan' } : { kind: 'release' };
  if (!vmi) return vm ? (vm.state === 'Running' ? { kind: 'shutdown-orphan' } : { kind: 'release' }) : NONE;
  // Run by someone else (KubeVirt's virt-handler, a harness playing it): never ours to touch.
  if (vmi.metadata.annotations?.[PLACEMENT_ANNOTATION] === EXTERNAL_PLACEMENT) return NONE;
  const status = vmi.status ?? {};
  if (status.nodeName !== node) {
    if (isIncoming(vmi, node)) return NONE;
    return vm ? { kind: 'release' } : NONE;
  }
  const phase = status.phase;
  const final = phase !== undefined && FINAL_VMI_PHASES.includes(phase);
  if (vmi.metadata.deletionTimestamp) {
    if (vm?.state === 'Running') return { kind: 'shutdown' };
    if (vm) return { kind: 'release' };
    return hasFinalizer(vmi) ? { kind: 'remove-finalizer' } : NONE;
  }
  // Reported final: a stopped domain is undefined (nothing of it stays on the node but its console log).
  if (final) return vm?.state === 'Running' ? { kind: 'shutdown' } : vm ? { kind: 'release' } : NONE;
  if (!vm) {
    if (isOutgoing(vmi, node)) return NONE;
    if (phase === 'Running') return adoptsReportedVms ? { kind: 'adopt' } : { kind: 'report', phase: 'Failed', reason: `the VM is gone from node ${node}` };
    if (phase === 'Unknown') return NONE;
    return hasFinalizer(vmi) ? { kind: 'start' } : { kind: 'add-finalizer' };
  }
  if (vm.state !== 'Running') return { kind: 'report', phase: vm.state, ...(vm.reason ? { reason: vm.reason } : {}) };
  const ready = status.conditions?.find((c) => c.type === 'Ready');
  if (phase !== 'Running' || (ready !== undefined && ready.status !== 'True')) return { kind: 'report', phase: 'Running' };
  return NONE;
}
