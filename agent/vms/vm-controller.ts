// One node's VM lifecycle: for a VMI key, read the VMI from the cache and the VM from the host,
// ask decideVm, apply that one action, look again. Per key one reconcile at a time (a key
// marked while running is looked at again right after); failures retry after RETRY_MS.
// Writes are guarded by the resourceVersion the decision was made on: a 409 means a newer VMI
// is on its way through the watch, which looks again.
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { VM_FINALIZER } from '../../api/vmi-status.js';
import { VMI_PLURAL, isConflict, isNotFound, type KubevirtClient } from '../../kube/kubevirt-client.js';
import { decideVm, type VmAction } from './decide.js';
import type { VmActionCounter } from './vm-metrics.js';
import type { VmHost } from './vm-host.js';
import { vmNotSynchronizedPatch, vmPhasePatch } from './vm-status.js';
import type { PvcVolumeResolver } from './pvc-volumes.js';
import { shutdownDeadlineMs } from './shutdown-deadline.js';

const RETRY_MS = 1_000;
/** A VMI whose volumes are not there yet (a PVC not bound …) is looked at again this often. */
const VOLUMES_RETRY_MS = 5_000;

export interface VmControllerLog {
  info(object: Record<string, unknown>, message: string): void;
  warn(object: Record<string, unknown>, message: string): void;
}

export type VmiWriter = Pick<KubevirtClient, 'patchStatus' | 'setFinalizers' | 'exists'>;

export interface VmControllerOptions {
  node: string;
  host: VmHost;
  vmiFor(key: string): VirtualMachineInstance | undefined;
  client: VmiWriter;
  /** persistentVolumeClaim volumes → node paths; without it such a VMI is refused. */
  pvcVolumes?: PvcVolumeResolver;
  log: VmControllerLog;
  actions?: VmActionCounter;
}

function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export class VmController {
  private readonly busy = new Map<string, { again: boolean }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** VM keys the host had at the last look: VMI events for them come here even when the VMI is elsewhere. */
  readonly vmKeys = new Set<string>();
  private stopped = false;

  constructor(private readonly options: VmControllerOptions) {}

  get node(): string {
    return this.options.node;
  }

  enqueue(key: string): void {
    if (this.stopped) return;
    const running = this.busy.get(key);
    if (running) {
      running.again = true;
      return;
    }
    const slot = { again: true };
    this.busy.set(key, slot);
    void (async () => {
      while (slot.again && !this.stopped) {
        slot.again = false;
        try {
          const retryAfter = await this.reconcile(key);
          if (retryAfter !== undefined) this.later(key, retryAfter);
        } catch (error) {
          this.options.log.warn({ node: this.node, vmi: key, err: error instanceof Error ? error.message : String(error) }, 'VM reconcile failed; retrying');
          this.later(key, RETRY_MS);
        }
      }
      this.busy.delete(key);
    })();
  }

  /** Looks at every VM the host has now (a resync). */
  async resync(): Promise<void> {
    const vms = await this.options.host.list();
    this.vmKeys.clear();
    for (const vm of vms) this.vmKeys.add(vm.key);
    for (const vm of vms) this.enqueue(vm.key);
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
  }

  private later(key: string, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.enqueue(key);
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  /** One step; returns a delay when the key must be looked at again without an event. */
  private async reconcile(key: string): Promise<number | undefined> {
    const { host, client, node } = this.options;
    const vmi = this.options.vmiFor(key);
    const vm = await host.get(key);
    if (vm) this.vmKeys.add(key);
    else this.vmKeys.delete(key);
    const action = decideVm(node, vmi, vm, host.adoptsReportedVms);
    if (action.kind === 'none') return undefined;
    this.count(action);
    this.options.log.info({ node, vmi: key, action: action.kind, ...(action.kind === 'report' ? { phase: action.phase } : {}) }, 'VM lifecycle');
    try {
      switch (action.kind) {
        case 'add-finalizer':
          await client.setFinalizers(VMI_PLURAL, vmi!.metadata, [...(vmi!.metadata.finalizers ?? []), VM_FINALIZER]);
          return undefined;
        case 'remove-finalizer':
          await client.setFinalizers(VMI_PLURAL, vmi!.metadata, (vmi!.metadata.finalizers ?? []).filter((f) => f !== VM_FINALIZER));
          return undefined;
        case 'start': {
          const volumes = this.options.pvcVolumes ? await this.options.pvcVolumes(vmi!) : { ok: true as const, disks: {} };
          if (!volumes.ok) {
            this.options.log.warn({ node, vmi: key, reason: volumes.reason }, volumes.message);
            const patch = vmNotSynchronizedPatch(vmi!, volumes.reason, volumes.message, new Date().toISOString());
            if (patch) await client.patchStatus(VMI_PLURAL, vmi!.metadata, patch);
            return VOLUMES_RETRY_MS;
          }
          await host.start(vmi!, volumes.disks);
          this.vmKeys.add(key);
          this.enqueue(key); // report it Running
          return undefined;
        }
        case 'adopt':
          await host.adopt(vmi!);
          this.vmKeys.add(key);
          return undefined;
        case 'report':
          await client.patchStatus(VMI_PLURAL, vmi!.metadata, vmPhasePatch(vmi!, action.phase, action.reason, new Date().toISOString()));
          return undefined;
        case 'shutdown-orphan': {
          // The cache may lag a VMI created moments ago: only a live read may say it is gone.
          const { namespace, name } = splitKey(key);
          if (!vmi && (await client.exists(VMI_PLURAL, namespace, name))) return RETRY_MS;
          return this.shutdown(key, shutdownDeadlineMs(vmi, Date.now()));
        }
        case 'shutdown':
          return this.shutdown(key, shutdownDeadlineMs(vmi, Date.now()));
        case 'release':
          await host.release(key);
          this.vmKeys.delete(key);
          this.enqueue(key); // e.g. drop the finalizer next
          return undefined;
      }
    } catch (error) {
      if (isConflict(error) || isNotFound(error)) return undefined;
      throw error;
    }
  }

  private async shutdown(key: string, deadlineMs: number): Promise<number | undefined> {
    const outcome = await this.options.host.shutdown(key, deadlineMs);
    // Looked at again each second, and at the deadline itself when it comes sooner.
    if (outcome === 'stopping') return Math.max(100, Math.min(RETRY_MS, deadlineMs - Date.now()));
    this.vmKeys.delete(key);
    this.enqueue(key);
    return undefined;
  }

  private count(action: VmAction): void {
    this.options.actions?.inc({ node: this.node, action: action.kind === 'shutdown-orphan' ? 'shutdown' : action.kind });
  }
}
