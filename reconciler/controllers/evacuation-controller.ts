// The evacuation controller: for each node, keeps its VMIs' evacuation in step with whether it is
// being drained (evacuation/draining.ts) — marks, reports, evacuation migrations created as KubeVirt
// makes them, retries after KubeVirt's backoff, and cancels when the drain is called off. Keyed by
// node name; each reconcile reads the caches, asks evacuation/plan.ts (pure), and writes.
//
// The evacuation migrations are ordinary VMIMs (priority system-critical): the migration controller
// runs them under the same cluster, outbound and inbound limits as every other, and its scheduling
// pass never picks a draining node as target.
import type { V1Node } from '@kubernetes/client-node';
import type { ClusterConfig } from '../../api/cluster-config.js';
import { EVACUATION_ANNOTATION, EVACUATION_GENERATE_NAME, VMI_NAME_LABEL } from '../../api/names.js';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import type { ObjectWithMeta } from '../../kube/informer.js';
import { VMI_PLURAL, VMIM_PLURAL, isConflict, isNotFound, type KubevirtClient } from '../../kube/kubevirt-client.js';
import type { KeyQueue, ReconcileResult } from '../controller-runner.js';
import { isDraining } from '../evacuation/draining.js';
import { planEvacuation, vmiKeyOf, vmiStatusPatch, type VmiDecision } from '../evacuation/plan.js';
import type { CacheOf } from './migration/deps.js';

/** How long a created migration may stay unseen in the cache before we stop counting on it. */
const UNSEEN_FOR_MS = 30_000;
/** VMI writes (status, create) one reconcile makes at once. */
const WRITE_CONCURRENCY = 8;

export interface EvacuationDeps {
  vmis: CacheOf<VirtualMachineInstance>;
  vmims: CacheOf<VirtualMachineInstanceMigration>;
  nodes: CacheOf<V1Node & ObjectWithMeta>;
  client: Pick<KubevirtClient, 'patchStatus' | 'create' | 'delete' | 'event'>;
  config: () => ClusterConfig;
  queue: KeyQueue;
  isLeader: () => boolean;
  /** Operator setting: a cordoned node is drained as a tainted one is. */
  evacuateOnCordon: boolean;
  /** KubeVirt's 20 s; tests shorten it. */
  backoffBaseMs: number;
  log: { info(o: Record<string, unknown>, m: string): void; warn(o: Record<string, unknown>, m: string): void };
  now?: () => number;
}

const vmiRef = (vmi: VirtualMachineInstance) => ({ kind: 'VirtualMachineInstance', apiVersion: 'kubevirt.io/v1', metadata: vmi.metadata });

export class EvacuationController {
  /** VMI key → the evacuation migration we created and the cache has not shown yet. */
  private readonly created = new Map<string, { name: string; atMs: number }>();
  /** VMI key → the failure count a MigrationBackoff event was already recorded for. */
  private readonly backoffTold = new Map<string, number>();

  constructor(private readonly deps: EvacuationDeps) {}

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  // ---- event handlers: enqueue node names, nothing else ----

  onNodeEvent = (_event: string, node: V1Node): void => {
    if (node.metadata?.name) this.deps.queue.add(node.metadata.name);
  };

  onVmiEvent = (_event: string, vmi: VirtualMachineInstance): void => {
    for (const node of [vmi.status?.nodeName, vmi.status?.evacuationNodeName]) if (node) this.deps.queue.add(node);
  };

  onMigrationEvent = (_event: string, vmim: VirtualMachineInstanceMigration): void => {
    const from = vmim.metadata.annotations?.[EVACUATION_ANNOTATION];
    if (from) this.deps.queue.add(from);
    const vmi = this.deps.vmis.get(vmim.spec.vmiName, vmim.metadata.namespace);
    if (vmi) this.onVmiEvent('update', vmi);
  };

  /** The drain taint key or the default strategy may have changed: every node again. */
  enqueueAll = (): void => {
    for (const node of this.deps.nodes.list()) if (node.metadata?.name) this.deps.queue.add(node.metadata.name);
    for (const vmi of this.deps.vmis.list()) this.onVmiEvent('update', vmi);
  };

  reconcile = async (nodeName: string): Promise<ReconcileResult | void> => {
    if (!this.deps.isLeader()) return;
    const config = this.deps.config();
    const node = this.deps.nodes.get(nodeName);
    const draining = isDraining(node, config.migrations.nodeDrainTaintKey, this.deps.evacuateOnCordon);
    const vmis = this.deps.vmis.list().filter((v) => v.status?.nodeName === nodeName || v.status?.evacuationNodeName === nodeName);
    const all = this.deps.vmims.list();
    this.forgetSeen(all);
    const byVmi = new Map<string, VirtualMachineInstanceMigration[]>();
    for (const m of all) {
      const key = `${m.metadata.namespace ?? ''}/${m.spec.vmiName}`;
      byVmi.set(key, [...(byVmi.get(key) ?? []), m]);
    }
    const nowMs = this.now();
    const plan = planEvacuation({
      node: nodeName,
      draining,
      clusterDefault: config.evictionStrategy,
      vmis,
      migrationsOf: (key) => byVmi.get(key) ?? [],
      evacuationsFrom: all.filter((m) => m.metadata.annotations?.[EVACUATION_ANNOTATION] === nodeName),
      createdUnseen: (key) => this.created.has(key),
      nowMs,
      backoffBaseMs: this.deps.backoffBaseMs,
    });
    // KubeVirt creates every evacuation at once; a few writes at a time do it without a burst.
    let raced = false;
    let failure: unknown;
    let next = 0;
    const nowIso = new Date(nowMs).toISOString();
    await Promise.all(
      Array.from({ length: Math.min(WRITE_CONCURRENCY, plan.vmis.length) }, async () => {
        for (let decision = plan.vmis[next++]; decision !== undefined; decision = plan.vmis[next++]) {
          await this.apply(decision, nodeName, nowIso).catch((error: unknown) => {
            if (isConflict(error) || isNotFound(error)) raced = true; // a newer VMI is on its way through the watch
            else failure ??= error;
          });
        }
      }),
    );
    if (failure !== undefined) throw failure;
    for (const vmim of plan.cancel) {
      // Cancel is a delete, as for any VMIM: the migration controller fails it and releases it.
      await this.deps.client.delete(VMIM_PLURAL, vmim.metadata);
      const vmi = this.deps.vmis.get(vmim.spec.vmiName, vmim.metadata.namespace);
      if (vmi) await this.tell(vmi, 'Normal', 'EvacuationCancelled', `Drain of ${nodeName} called off: evacuation migration ${vmim.metadata.name} cancelled before it started`);
    }
    if (raced) return { requeueAfterMs: 50 };
    return plan.requeueAfterMs === undefined ? undefined : { requeueAfterMs: plan.requeueAfterMs };
  };

  private async apply(decision: VmiDecision, nodeName: string, nowIso: string): Promise<void> {
    const { vmi, action, blocked } = decision;
    const key = vmiKeyOf(vmi);
    const patch = vmiStatusPatch(decision, nowIso);
    if (patch) {
      await this.deps.client.patchStatus(VMI_PLURAL, vmi.metadata, patch);
      const wasBlocked = vmi.status?.conditions?.find((c) => c.type === 'EvacuationBlocked' && c.status === 'True');
      if (blocked && (wasBlocked?.reason !== blocked.reason || wasBlocked.message !== blocked.message)) await this.tell(vmi, 'Warning', 'EvacuationBlocked', blocked.message);
    }
    if (action.kind !== 'backoff') this.backoffTold.delete(key);
    if (action.kind === 'backoff' && this.backoffTold.get(key) !== action.failures) {
      this.backoffTold.set(key, action.failures);
      const seconds = Math.ceil((action.notBeforeMs - this.now()) / 1000);
      await this.tell(vmi, 'Warning', 'MigrationBackoff', `backoff migrating vmi ${key}: ${action.failures} evacuation migration(s) failed in a row, next in ${seconds} s`);
    }
    if (action.kind === 'create') await this.createEvacuation(vmi, nodeName);
  }

  private async createEvacuation(vmi: VirtualMachineInstance, nodeName: string): Promise<void> {
    const key = vmiKeyOf(vmi);
    const name = vmi.metadata.name ?? '';
    try {
      const created = await this.deps.client.create(VMIM_PLURAL, vmi.metadata.namespace ?? '', {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstanceMigration',
        metadata: { generateName: EVACUATION_GENERATE_NAME, annotations: { [EVACUATION_ANNOTATION]: nodeName }, labels: { [VMI_NAME_LABEL]: name } },
        spec: { vmiName: name, priority: 'system-critical' },
      });
      const createdName = (created.metadata as { name?: string } | undefined)?.name ?? '';
      this.created.set(key, { name: createdName, atMs: this.now() });
      this.deps.log.info({ vmi: key, migration: createdName, node: nodeName }, 'evacuation migration created');
      await this.tell(vmi, 'Normal', 'SuccessfulCreate', `Created evacuation migration ${createdName} (node ${nodeName} is being drained)`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.deps.log.warn({ vmi: key, error: message }, 'evacuation migration not created');
      await this.tell(vmi, 'Warning', 'FailedCreate', `Failed to create evacuation migration: ${message}`);
      throw error;
    }
  }

  private forgetSeen(all: readonly VirtualMachineInstanceMigration[]): void {
    if (this.created.size === 0) return;
    const names = new Set(all.map((m) => `${m.metadata.namespace ?? ''}/${m.metadata.name ?? ''}`));
    const nowMs = this.now();
    for (const [key, { name, atMs }] of this.created) {
      const namespace = key.slice(0, key.indexOf('/'));
      if (names.has(`${namespace}/${name}`) || nowMs - atMs > UNSEEN_FOR_MS) this.created.delete(key);
    }
  }

  /** Events are reports, never a reason to fail a reconcile. */
  private async tell(vmi: VirtualMachineInstance, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    await this.deps.client.event(vmiRef(vmi), type, reason, message).catch((error: unknown) => {
      this.deps.log.warn({ reason, error: String(error) }, 'event not recorded');
    });
  }
}
