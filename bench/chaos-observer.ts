// What the chaos benchmark sees of the migrations while faults fly: a watch (the defensive
// informer, which relists after an API server outage) keeps the last state of every VMIM, deleted
// ones included; each time a VMIM is first seen Running or final, its VMI is read at once and must
// agree (order of truth); the slot-holding migrations are counted on every event (a live sample of
// the limits, informational: the invariant is the sweep over the phase stamps made at the end).
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { VirtualMachineInstance } from '../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../api/schemas/vmim.js';
import { migrationInformer } from '../kube/informers.js';
import { disagreement, FINAL_PHASES, SLOT_PHASES, type Limits } from './chaos-checks.js';

export interface Seen {
  vmim: VirtualMachineInstanceMigration;
  deleted: boolean;
}

export interface OrderOfTruth {
  checked: number;
  /** The VMI could not be read (API server away): not a verdict either way. */
  unsampled: number;
  violations: string[];
}

export class ChaosObserver {
  readonly seen = new Map<string, Seen>();
  readonly order: OrderOfTruth = { checked: 0, unsampled: 0, violations: [] };
  readonly livePeak = { cluster: 0, outbound: 0, inbound: 0, exceeded: [] as string[] };
  private readonly pending = new Set<Promise<void>>();
  private readonly informer;
  private readonly custom: CustomObjectsApi;

  constructor(kubeConfig: KubeConfig, private readonly namespace: string, private readonly limits: Limits) {
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    // A short silence bound: after an outage the watch is relisted within seconds.
    this.informer = migrationInformer({ kubeConfig, namespace, staleAfterMs: 15_000 }, { onEvent: (event, vmim) => this.onEvent(event, vmim) });
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.pending]);
    await this.informer.stop();
  }

  /** Adds what a final list shows (a watch may have missed the last events of an outage). */
  absorb(items: readonly VirtualMachineInstanceMigration[]): void {
    const present = new Set(items.map((m) => m.metadata.uid));
    for (const m of items) this.seen.set(m.metadata.uid ?? '', { vmim: m, deleted: false });
    for (const [uid, s] of this.seen) if (!present.has(uid)) s.deleted = true;
  }

  private onEvent(event: string, vmim: VirtualMachineInstanceMigration): void {
    const uid = vmim.metadata.uid ?? '';
    const before = this.seen.get(uid)?.vmim.status?.phase;
    this.seen.set(uid, { vmim, deleted: event === 'delete' });
    const phase = vmim.status?.phase ?? '';
    if (phase !== before && event !== 'delete' && (phase === 'Running' || FINAL_PHASES.has(phase))) {
      const check = this.checkOrder(vmim).finally(() => this.pending.delete(check));
      this.pending.add(check);
    }
    this.sampleLimits();
  }

  /** The VMI, read right after the VMIM was seen, must already say the same. */
  private async checkOrder(vmim: VirtualMachineInstanceMigration): Promise<void> {
    let vmi: VirtualMachineInstance | undefined;
    try {
      vmi = (await this.custom.getNamespacedCustomObject({
        group: 'kubevirt.io',
        version: 'v1',
        namespace: this.namespace,
        plural: 'virtualmachineinstances',
        name: vmim.spec.vmiName,
      })) as VirtualMachineInstance;
    } catch {
      this.order.unsampled++;
      return;
    }
    this.order.checked++;
    const problem = disagreement(vmim, vmi);
    if (problem) this.order.violations.push(`${vmim.metadata.name} (${vmim.metadata.uid}): ${problem}`);
  }

  private sampleLimits(): void {
    let cluster = 0;
    const out = new Map<string, number>();
    const into = new Map<string, number>();
    // The informer's own cache: after a relist it holds exactly what the list showed.
    for (const vmim of this.informer.list(this.namespace)) {
      if (!SLOT_PHASES.has(vmim.status?.phase ?? '')) continue;
      cluster++;
      const s = vmim.status?.migrationState?.sourceNode ?? '?';
      const t = vmim.status?.migrationState?.targetNode ?? '?';
      out.set(s, (out.get(s) ?? 0) + 1);
      into.set(t, (into.get(t) ?? 0) + 1);
    }
    const o = Math.max(0, ...out.values());
    const i = Math.max(0, ...into.values());
    const when = new Date().toISOString();
    if (cluster > this.limits.cluster) this.livePeak.exceeded.push(`${when} cluster ${cluster}`);
    if (o > this.limits.outboundPerNode) this.livePeak.exceeded.push(`${when} outbound ${o}`);
    if (i > this.limits.inboundPerNode) this.livePeak.exceeded.push(`${when} inbound ${i}`);
    this.livePeak.cluster = Math.max(this.livePeak.cluster, cluster);
    this.livePeak.outbound = Math.max(this.livePeak.outbound, o);
    this.livePeak.inbound = Math.max(this.livePeak.inbound, i);
  }
}
