// What the agent's VM lifecycle needs of a node's hypervisor: list the VMs it runs for us, start
// one from a VMI, shut one down, forget one that left. Implemented by the simulation
// (simulation/simulated-vms.ts) and, later, libvirt. Keyed by the VMI's `namespace/name` (the
// libvirt domain `<namespace>_<name>`), each VM carrying the UID of the VMI it was started for.
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import type { PvcDisks } from './pvc-volumes.js';

export const CONSOLE_MAX_BYTES = 256 * 1024;

export type VmState = 'Running' | 'Succeeded' | 'Failed';

export interface VmInfo {
  /** `namespace/name` of the VMI. */
  key: string;
  /** UID of the VMI the VM was started for (its own metadata): a VM of another UID is not this VMI's. */
  uid: string;
  state: VmState;
  /** Why it stopped (guest power-off, crash …), when not Running. */
  reason?: string;
}

export interface VmHost {
  /**
   * Whether a VMI that already says Running on this node, with no VM here, is this host's: true
   * for the simulation (its VMs are not observable across an agent restart, and harnesses create
   * VMIs already Running); false for a real hypervisor, where that VM is gone.
   */
  readonly adoptsReportedVms: boolean;
  list(): Promise<VmInfo[]>;
  get(key: string): Promise<VmInfo | undefined>;
  /** How often to look at every VM for changes nobody announces (a guest powering off); undefined: never. */
  readonly resyncMs: number | undefined;
  /** Starts the VM (its persistentVolumeClaim volumes resolved to node paths); a second call for the same UID changes nothing (never two starts). */
  start(vmi: VirtualMachineInstance, pvcDisks: PvcDisks): Promise<void>;
  /** Takes a VMI that says it runs here as this host's VM (adoptsReportedVms only). */
  adopt(vmi: VirtualMachineInstance): Promise<void>;
  /**
   * Guest shutdown, forced at deadlineMs (shutdown-deadline.ts; a host that records deadlines keeps
   * the earliest, across agent restarts); answers whether the VM is gone yet.
   */
  shutdown(key: string, deadlineMs: number): Promise<'gone' | 'stopping'>;
  /** The guest's serial console log as this node has it (at most the last CONSOLE_MAX_BYTES); undefined without a VM. */
  console(vmi: VirtualMachineInstance): Promise<string | undefined>;
  /** Drops a VM that is no longer this node's (it migrated away, or stopped and was reported). */
  release(key: string): Promise<void>;
}
