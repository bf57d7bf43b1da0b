// The migration controller: moves each VMIM through its phases, dispatches to node agents,
// enforces timeouts and turns deletion into an abort. Level-triggered: every reconcile reads the
// caches, asks the pure functions in reconciler/ what to do, and makes at most a few guarded
// writes; a write that lost a race (409) is retried from a fresh read.
//
// Two kinds of keys share one queue:
// - "<namespace>/<name>": one migration's own progress;
// - SCHEDULER_KEY: the single admission pass over every waiting migration (so limits and queue
//   order are decided in one place, one pass at a time).
import type { V1Node } from '@kubernetes/client-node';
import type { AgentCallError, MigrationJobStatus, NodeAgentApi } from '../../agent/contract.js';
import type { ClusterConfig } from '../../api/cluster-config.js';
import type { Condition } from '../../api/schemas/migration-state.js';
import type { MigrationConfiguration } from '../../api/schemas/migration-config.js';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { parseQuantity } from '../../api/quantity.js';
import type { DefensiveInformer, ObjectWithMeta } from '../../kube/informer.js';
import { VMIM_PLURAL, VMI_PLURAL, isConflict, isNotFound, type KubevirtClient } from '../../kube/kubevirt-client.js';
import type { AgentDirectory } from '../agents/agent-directory.js';
import { nodeFacts } from '../agents/node-facts.js';
import type { KeyQueue, ReconcileResult } from '../controller-runner.js';
import { FailureReason } from '../failure-reasons.js';
import { migrationsToPrune } from '../history/prune.js';
import { admit, inFlightFrom, migrationKey, waitingFrom, type InFlight } from '../limits/slots.js';
import { computeMigratability } from '../migratability/live-migratable.js';
import {
  ABORT_REQUESTED_CONDITION,
  applyPhase,
  finishAbort,
  isFinal,
  requestAbort,
  type MigrationStatus,
  type PhaseChange,
} from '../phases.js';
import { shouldPublish, toProgressBlock } from '../progress/progress-block.js';
import { chooseTarget } from '../scheduling/target-choice.js';
import { abortingDecision, runningDecision, startProgressTracking, trackProgress, waitingDecision, type ProgressTracker } from '../timeouts/policy.js';
import { vmiMigrationSize } from '../timeouts/migration-size.js';
import { readGuestMemoryBytes } from '../vmi/domain.js';
import { mirrorToVmi } from '../vmi-mirror.js';
import { objectKey, splitKey } from './vmi-migratability.js';

export const SCHEDULER_KEY = '~scheduler';
export const MIGRATION_FINALIZER = 'kubevirt.io/migrationJobFinalize';
export const VMI_NAME_LABEL = 'kubevirt.io/vmi-name';
/** Why a migration in Scheduling waits; its lastTransitionTime is when that reason began. */
export const WAITING_CONDITION = 'Admitted';
const POLL_RUNNING_MS = 1000;
const POLL_SOON_MS = 50;
/** Writes one scheduling pass makes at once (the API server's own flow control does the rest). */
const WRITE_CONCURRENCY = 8;
const RETRY_AGENT_MS = 1000;

export interface MigrationControllerCaches {
  vmims: DefensiveInformer<VirtualMachineInstanceMigration>;
  vmis: DefensiveInformer<VirtualMachineInstance>;
  nodes: DefensiveInformer<V1Node & ObjectWithMeta>;
  pvcLookup: (namespace: string, claim: string) => { accessModes: readonly string[] } | undefined;
}

export interface MigrationControllerDeps {
  caches: MigrationControllerCaches;
  client: KubevirtClient;
  agents: AgentDirectory;
  /** The cluster configuration in force now (last valid kubevirt-config, or defaults). */
  config: () => ClusterConfig;
  /** Resolves a migration's settings: the stamped spec.migrationConfiguration over the cluster's. */
  effectiveConfiguration: (cluster: ClusterConfig, stamped: Partial<MigrationConfiguration> | undefined) => MigrationConfiguration;
  queue: KeyQueue;
  /** Whether this replica may act (leader); writes stop the moment it is not. */
  isLeader: () => boolean;
  log: { info(o: Record<string, unknown>, m: string): void; warn(o: Record<string, unknown>, m: string): void };
  observe?: MigrationObserver;
  now?: () => number;
}

export interface MigrationObserver {
  finished(phase: 'Succeeded' | 'Failed', reason: string | undefined): void;
  dispatched(key: string): void;
}

class NotLeader extends Error {}

async function runBounded(tasks: Array<() => Promise<unknown>>, concurrency: number, onError: (error: unknown) => void): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, tasks.length) }, async () => {
      while (next < tasks.length) {
        const task = tasks[next++];
        await task?.().catch(onError);
      }
    }),
  );
}

/**
 * When to ask the source again: every second, but sooner when the agent expects the end sooner,
 * so a slot is not held idle for up to a second after the switch-over.
 */
function nextPoll(job: MigrationJobStatus): number {
  if (job.state === 'SwitchingOver') return POLL_SOON_MS;
  const eta = job.progress?.etaSeconds;
  if (eta === null || eta === undefined) return POLL_RUNNING_MS;
  return Math.max(POLL_SOON_MS, Math.min(POLL_RUNNING_MS, Math.round(eta * 1000) + POLL_SOON_MS));
}

const iso = (ms: number) => new Date(ms).toISOString();

function stampMs(status: MigrationStatus | undefined, phase: string): number | undefined {
  const stamp = status?.phaseTransitionTimestamps?.find((p) => p.phase === phase)?.phaseTransitionTimestamp;
  const ms = stamp ? Date.parse(stamp) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

function conditionOf(status: MigrationStatus | undefined, type: string): Condition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

function isAgentError(error: unknown): error is AgentCallError {
  return error instanceof Error && error.name === 'AgentCallError';
}

export class MigrationController {
  /** Admissions written but not yet seen in the cache: counted as in flight so no pass over-admits. */
  private readonly unobservedAdmissions = new Map<string, InFlight & { uid: string }>();
  private readonly trackers = new Map<string, ProgressTracker>();
  private readonly agentSilentSince = new Map<string, number>();
  /** This controller's own latest writes, newer than the cache until the watch catches up. */
  private readonly written = new Map<string, VirtualMachineInstanceMigration>();
  private readonly now: () => number;

  constructor(private readonly deps: MigrationControllerDeps) {
    this.now = deps.now ?? Date.now;
  }

  // ---- event handlers: enqueue keys, nothing else ----

  onMigrationEvent = (_event: string, vmim: VirtualMachineInstanceMigration): void => {
    this.deps.queue.add(migrationKey(vmim));
    this.deps.queue.add(SCHEDULER_KEY);
  };

  /** Node, agent or config changes can free or open targets. */
  onClusterEvent = (): void => {
    this.deps.queue.add(SCHEDULER_KEY);
  };

  /** A VMI change matters to its in-flight migrations (it vanished, it stopped). */
  onVmiEvent = (_event: string, vmi: VirtualMachineInstance): void => {
    for (const vmim of this.deps.caches.vmims.list(vmi.metadata.namespace)) {
      if (vmim.spec.vmiName === vmi.metadata.name && !isFinal(vmim.status?.phase)) this.deps.queue.add(migrationKey(vmim));
    }
  };

  /** Everything, once leadership begins: a new leader trusts nothing it did not read. */
  enqueueAll(): void {
    for (const vmim of this.deps.caches.vmims.list()) this.deps.queue.add(migrationKey(vmim));
    this.deps.queue.add(SCHEDULER_KEY);
  }

  reconcile = async (key: string): Promise<ReconcileResult | void> => {
    if (!this.deps.isLeader()) return;
    try {
      if (key === SCHEDULER_KEY) return await this.schedule();
      return await this.reconcileMigration(key);
    } catch (error) {
      // Lost a race with another write, or with a deletion: look again from a fresh read.
      if (isConflict(error) || error instanceof NotLeader) return { requeueAfterMs: 50 };
      if (isNotFound(error)) return;
      throw error;
    }
  };

  // ---- writes ----

  private async writeStatus(vmim: VirtualMachineInstanceMigration, status: MigrationStatus): Promise<void> {
    if (!this.deps.isLeader()) throw new NotLeader();
    const written = (await this.deps.client.patchStatus(VMIM_PLURAL, vmim.metadata, status as Record<string, unknown>)) as unknown as VirtualMachineInstanceMigration;
    // Go on from what was written without waiting for the watch to bring it back.
    const key = migrationKey(vmim);
    this.written.set(key, written);
    this.deps.queue.add(key);
  }

  /**
   * The freshest view of a migration: the cache, or this controller's own last write when the
   * cache has not caught up with it yet (resourceVersions are etcd revisions, so newer is larger).
   * A migration gone from the cache is gone.
   */
  private current(namespace: string, name: string): VirtualMachineInstanceMigration | undefined {
    const key = `${namespace}/${name}`;
    const cached = this.deps.caches.vmims.get(name, namespace);
    const mine = this.written.get(key);
    if (!cached || !mine) {
      this.written.delete(key);
      return cached;
    }
    if (cached.metadata.uid === mine.metadata.uid && Number(mine.metadata.resourceVersion) > Number(cached.metadata.resourceVersion)) return mine;
    this.written.delete(key);
    return cached;
  }

  private async transition(vmim: VirtualMachineInstanceMigration, changes: PhaseChange[], extra?: Partial<MigrationStatus>): Promise<MigrationStatus> {
    const nowIso = iso(this.now());
    let status: MigrationStatus = vmim.status ?? {};
    for (const change of changes) {
      const result = applyPhase(status, change, nowIso);
      if (!result.ok) throw new Error(`${migrationKey(vmim)}: ${result.error}`);
      status = result.status;
    }
    status = { ...status, ...extra };
    await this.writeStatus(vmim, status);
    const last = changes[changes.length - 1];
    if (last?.phase === 'Failed' || last?.phase === 'Succeeded') this.deps.queue.add(SCHEDULER_KEY);
    if (last?.phase === 'Failed') {
      this.event(vmim, 'Warning', 'MigrationFailed', `${last.reason}: ${last.message}`);
      this.deps.observe?.finished('Failed', last.reason);
    } else if (last?.phase === 'Succeeded') {
      this.event(vmim, 'Normal', 'MigrationSucceeded', `VMI ${vmim.spec.vmiName} now runs on ${status.migrationState?.targetNode}`);
      this.deps.observe?.finished('Succeeded', undefined);
    } else if (last?.phase === 'Scheduled' || last?.phase === 'Running') {
      this.event(vmim, 'Normal', last.phase, last.phase === 'Scheduled' ? `target node ${last.targetNode}` : 'data is moving');
    }
    return status;
  }

  private fail(vmim: VirtualMachineInstanceMigration, reason: FailureReason, message: string): Promise<MigrationStatus> {
    return this.transition(vmim, [{ phase: 'Failed', reason, message }]);
  }

  private event(vmim: VirtualMachineInstanceMigration, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const target = { kind: 'VirtualMachineInstanceMigration', apiVersion: 'kubevirt.io/v1', metadata: vmim.metadata };
    this.deps.client.event(target, type, reason, message).catch((error: unknown) => {
      this.deps.log.warn({ err: String(error), migration: migrationKey(vmim) }, 'could not record event');
    });
  }

  /** Mirrors the migration onto its VMI (guarded against an older migration overwriting a newer one). */
  private async mirror(vmim: VirtualMachineInstanceMigration, status: MigrationStatus): Promise<void> {
    const vmi = this.deps.caches.vmis.get(vmim.spec.vmiName, vmim.metadata.namespace);
    if (!vmi) return;
    const result = mirrorToVmi(vmi.status, status);
    if (!result.ok || !result.changed) return;
    if (!this.deps.isLeader()) throw new NotLeader();
    const patch: Record<string, unknown> = { migrationState: result.status.migrationState };
    if (result.status.nodeName !== vmi.status?.nodeName) patch.nodeName = result.status.nodeName;
    await this.deps.client.patchStatus(VMI_PLURAL, vmi.metadata, patch);
    if (status.phase === 'Succeeded' || status.phase === 'Failed') {
      const target = { kind: 'VirtualMachineInstance', apiVersion: 'kubevirt.io/v1', metadata: vmi.metadata };
      const message =
        status.phase === 'Succeeded'
          ? `migrated from ${status.migrationState?.sourceNode} to ${status.migrationState?.targetNode} by ${vmim.metadata.name}`
          : `migration ${vmim.metadata.name} failed: ${status.migrationState?.failureReason ?? 'unknown'}`;
      this.deps.client
        .event(target, status.phase === 'Succeeded' ? 'Normal' : 'Warning', status.phase === 'Succeeded' ? 'Migrated' : 'MigrationFailed', message)
        .catch(() => {});
    }
  }

  // ---- agent calls: silence is tracked so a dead agent ends in a bounded time ----

  private agent(node: string | undefined): NodeAgentApi | undefined {
    return node ? this.deps.agents.agentFor(node) : undefined;
  }

  /**
   * An agent call. `refused` means the agent answered and said no for good (the domain is not on
   * its node, or already on the target): retrying cannot help, so the migration fails at once.
   * Anything else counts as silence, bounded by targetReadyTimeout.
   */
  private async callAgent<T>(uid: string, call: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: string; refused?: boolean }> {
    try {
      const value = await call();
      this.agentSilentSince.delete(uid);
      return { ok: true, value };
    } catch (error) {
      if (!isAgentError(error) && !(error instanceof Error)) throw error;
      if (isAgentError(error) && (error.code === 'NotFound' || error.code === 'Conflict')) return { ok: false, error: error.message, refused: true };
      if (!this.agentSilentSince.has(uid)) this.agentSilentSince.set(uid, this.now());
      return { ok: false, error: error.message };
    }
  }

  // ---- one migration ----

  private async reconcileMigration(key: string): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    const vmim = this.current(namespace, name);
    if (!vmim) {
      this.forgetSoftState(key);
      return;
    }
    if (vmim.metadata.deletionTimestamp) return this.reconcileDeletion(vmim);
    const status = vmim.status;
    switch (status?.phase) {
      case undefined:
        return this.begin(vmim);
      case 'Pending':
        await this.transition(vmim, [{ phase: 'Scheduling' }]);
        return;
      case 'Scheduling':
        this.deps.queue.add(SCHEDULER_KEY);
        return;
      case 'Scheduled':
        await this.transition(vmim, [{ phase: 'PreparingTarget' }]);
        return;
      case 'PreparingTarget':
        return this.prepareTarget(vmim, status);
      case 'TargetReady':
        return this.startOnSource(vmim, status);
      case 'Running':
        return this.watchRunning(vmim, status);
      case 'Succeeded':
      case 'Failed':
        return this.finalize(vmim, status);
    }
  }

  private vmiOf(vmim: VirtualMachineInstanceMigration): VirtualMachineInstance | undefined {
    return this.deps.caches.vmis.get(vmim.spec.vmiName, vmim.metadata.namespace);
  }

  private async begin(vmim: VirtualMachineInstanceMigration): Promise<ReconcileResult | void> {
    // Without the webhook (or before it ran) the finalizer may be missing: cancel must still work.
    if (!(vmim.metadata.finalizers ?? []).includes(MIGRATION_FINALIZER)) {
      await this.deps.client.setFinalizers(VMIM_PLURAL, vmim.metadata, [...(vmim.metadata.finalizers ?? []), MIGRATION_FINALIZER]);
      return;
    }
    const cluster = this.deps.config();
    const configuration = this.deps.effectiveConfiguration(cluster, vmim.spec.migrationConfiguration);
    const vmi = this.vmiOf(vmim);
    const sourceNode = vmi?.status?.nodeName ?? '';
    const pending: PhaseChange = { phase: 'Pending', migrationUid: vmim.metadata.uid ?? '', sourceNode, migrationConfiguration: configuration };
    const blocker = this.blocker(vmim, vmi);
    if (blocker) {
      await this.transition(vmim, [pending, { phase: 'Failed', reason: blocker.reason, message: blocker.message }]);
      return;
    }
    await this.transition(vmim, [pending, { phase: 'Scheduling' }]);
  }

  /** Why this migration cannot go on, read from its VMI. */
  private blocker(vmim: VirtualMachineInstanceMigration, vmi: VirtualMachineInstance | undefined): { reason: FailureReason; message: string } | undefined {
    const ref = `VMI ${vmim.metadata.namespace}/${vmim.spec.vmiName}`;
    if (!vmi) return { reason: FailureReason.VmiGone, message: `${ref} does not exist` };
    if (vmi.status?.phase !== 'Running' || !vmi.status.nodeName) {
      return { reason: FailureReason.VmiGone, message: `${ref} is not running (phase ${vmi.status?.phase ?? 'unknown'})` };
    }
    const source = vmim.status?.migrationState?.sourceNode;
    if (source && vmi.status.nodeName !== source && !isFinal(vmim.status?.phase)) {
      return { reason: FailureReason.VmiGone, message: `${ref} moved to ${vmi.status.nodeName} (the migration started from ${source})` };
    }
    const { condition } = computeMigratability(vmi, (claim) => this.deps.caches.pvcLookup(vmim.metadata.namespace ?? '', claim));
    if (condition.status === 'False') {
      return { reason: FailureReason.NotMigratable, message: `Cannot migrate VMI, Reason: ${condition.reason}, Message: ${condition.message}` };
    }
    return undefined;
  }

  /** Before each agent call: a VMI that can no longer migrate ends the migration and frees the target. */
  private async failedOnBlocker(vmim: VirtualMachineInstanceMigration, vmi: VirtualMachineInstance | undefined): Promise<boolean> {
    const blocker = this.blocker(vmim, vmi);
    if (!blocker) return false;
    await this.releaseTarget(vmim);
    await this.fail(vmim, blocker.reason, blocker.message);
    return true;
  }

  private configuration(vmim: VirtualMachineInstanceMigration): MigrationConfiguration {
    return this.deps.effectiveConfiguration(this.deps.config(), vmim.status?.migrationState?.migrationConfiguration ?? vmim.spec.migrationConfiguration);
  }

  private waitingDecisionFor(vmim: VirtualMachineInstanceMigration, status: MigrationStatus, since: number, agentNode: string | undefined) {
    const config = this.configuration(vmim);
    return waitingDecision({
      phase: status.phase ?? 'Pending',
      nowMs: this.now(),
      waitingSinceMs: since,
      agentSilentSinceMs: this.agentSilentSince.get(vmim.metadata.uid ?? ''),
      agentNode,
      unschedulableTimeout: config.unschedulableTimeout,
      targetReadyTimeout: config.targetReadyTimeout,
    });
  }

  private async prepareTarget(vmim: VirtualMachineInstanceMigration, status: MigrationStatus): Promise<ReconcileResult | void> {
    const uid = vmim.metadata.uid ?? '';
    const targetNode = status.migrationState?.targetNode;
    const vmi = this.vmiOf(vmim);
    if (await this.failedOnBlocker(vmim, vmi)) return;
    const target = this.agent(targetNode);
    const answer = target
      ? await this.callAgent(uid, () =>
          target.prepareTarget({
            migrationUid: uid,
            vmi: { namespace: vmim.metadata.namespace ?? '', name: vmim.spec.vmiName, uid: vmi?.metadata.uid },
            sourceNode: status.migrationState?.sourceNode ?? '',
            memoryBytes: readGuestMemoryBytes(vmi?.spec) ?? 0,
            annotations: vmi?.metadata.annotations,
          }),
        )
      : ({ ok: false, error: `node ${targetNode} has no live agent` } as const);
    if (answer.ok) {
      await this.transition(vmim, [{ phase: 'TargetReady', ...answer.value }]);
      return;
    }
    if (!this.agentSilentSince.has(uid)) this.agentSilentSince.set(uid, this.now());
    return this.afterFailedCall(vmim, status, answer, 'target', stampMs(status, 'Scheduled'), targetNode);
  }

  /** A prepare or start the agent did not carry out: fail now if it refused, else wait within bounds. */
  private async afterFailedCall(
    vmim: VirtualMachineInstanceMigration,
    status: MigrationStatus,
    answer: { error: string; refused?: boolean },
    agent: 'target' | 'source',
    waitingSinceMs: number | undefined,
    node: string | undefined,
  ): Promise<ReconcileResult | void> {
    if (answer.refused) {
      await this.releaseTarget(vmim);
      await this.fail(vmim, agent === 'target' ? FailureReason.TargetFailed : FailureReason.SourceFailed, `the ${agent} agent refused: ${answer.error}`);
      return;
    }
    const decision = this.waitingDecisionFor(vmim, status, waitingSinceMs ?? this.now(), node);
    if (decision.action === 'abort') {
      await this.releaseTarget(vmim);
      await this.fail(vmim, decision.reason, `${decision.message} (last error: ${answer.error})`);
      return;
    }
    return { requeueAfterMs: RETRY_AGENT_MS };
  }

  private async startOnSource(vmim: VirtualMachineInstanceMigration, status: MigrationStatus): Promise<ReconcileResult | void> {
    const uid = vmim.metadata.uid ?? '';
    const state = status.migrationState ?? {};
    const vmi = this.vmiOf(vmim);
    if (await this.failedOnBlocker(vmim, vmi)) return;
    const config = this.configuration(vmim);
    const source = this.agent(state.sourceNode);
    const answer = source
      ? await this.callAgent(uid, () =>
          source.startMigration({
            migrationUid: uid,
            vmi: { namespace: vmim.metadata.namespace ?? '', name: vmim.spec.vmiName, uid: vmi?.metadata.uid },
            destination: { nodeName: state.targetNode ?? '', address: state.targetNodeAddress ?? '', ports: state.targetDirectMigrationNodePorts ?? {} },
            bandwidthBytesPerSecond: parseQuantity(config.bandwidthPerMigration),
            allowAutoConverge: config.allowAutoConverge,
            allowPostCopy: config.allowPostCopy,
            memoryBytes: readGuestMemoryBytes(vmi?.spec) ?? 0,
            annotations: vmi?.metadata.annotations,
          }),
        )
      : ({ ok: false, error: `node ${state.sourceNode} has no live agent` } as const);
    if (answer.ok) {
      this.trackers.set(uid, startProgressTracking(this.now()));
      const running = await this.transition(vmim, [{ phase: 'Running' }]);
      this.deps.observe?.dispatched(migrationKey(vmim));
      await this.mirror(vmim, running);
      return { requeueAfterMs: POLL_RUNNING_MS };
    }
    return this.afterFailedCall(vmim, status, answer, 'source', stampMs(status, 'TargetReady'), state.sourceNode);
  }

  private async watchRunning(vmim: VirtualMachineInstanceMigration, status: MigrationStatus): Promise<ReconcileResult | void> {
    const uid = vmim.metadata.uid ?? '';
    const state = status.migrationState ?? {};
    const source = this.agent(state.sourceNode);
    const answer = source
      ? await this.callAgent(uid, () => source.migrationStatus(uid))
      : ({ ok: false, error: `node ${state.sourceNode} has no live agent` } as const);
    const config = this.configuration(vmim);
    if (!answer.ok) {
      const silentSince = this.agentSilentSince.get(uid) ?? this.now();
      this.agentSilentSince.set(uid, silentSince);
      const decision = waitingDecision({
        phase: 'Running',
        nowMs: this.now(),
        waitingSinceMs: silentSince,
        agentSilentSinceMs: silentSince,
        agentNode: state.sourceNode,
        unschedulableTimeout: config.unschedulableTimeout,
        targetReadyTimeout: config.targetReadyTimeout,
      });
      if (decision.action === 'abort') {
        // The source is unreachable: we cannot know the guest moved, so we say what we know.
        await this.fail(vmim, decision.reason, `${decision.message}; the outcome on the node is unknown (last error: ${answer.error})`);
        return;
      }
      return { requeueAfterMs: RETRY_AGENT_MS };
    }
    const job = answer.value;
    if (!job) {
      await this.fail(vmim, FailureReason.SourceFailed, `the agent on ${state.sourceNode} has no record of this migration`);
      return;
    }
    return this.onJobStatus(vmim, status, job, config);
  }

  private async onJobStatus(
    vmim: VirtualMachineInstanceMigration,
    status: MigrationStatus,
    job: MigrationJobStatus,
    config: MigrationConfiguration,
  ): Promise<ReconcileResult | void> {
    const uid = vmim.metadata.uid ?? '';
    const state = status.migrationState ?? {};
    switch (job.state) {
      case 'Completed':
        return this.confirmArrival(vmim, status);
      case 'Failed':
        await this.releaseTarget(vmim);
        await this.fail(vmim, FailureReason.SourceFailed, job.failure ?? 'the hypervisor reported the migration failed');
        return;
      case 'Aborted':
        await this.releaseTarget(vmim);
        await this.fail(vmim, FailureReason.Aborted, 'aborted on the source node');
        return;
      case 'Running':
      case 'SwitchingOver':
        break;
    }
    const nowMs = this.now();
    let tracker = this.trackers.get(uid) ?? startProgressTracking(nowMs);
    if (job.progress) tracker = trackProgress(tracker, { dataRemainingBytes: job.progress.dataRemainingBytes, atMs: nowMs });
    this.trackers.set(uid, tracker);
    const vmi = this.vmiOf(vmim);
    const method = vmi?.status?.migrationMethod ?? 'LiveMigration';
    const localVolumes = vmi ? computeMigratability(vmi, (c) => this.deps.caches.pvcLookup(vmim.metadata.namespace ?? '', c)).localVolumes : [];
    const size = vmi ? vmiMigrationSize(vmi, method, localVolumes).sizeBytes : 0;
    const decision = runningDecision({
      startedAtMs: state.startTimestamp ? Date.parse(state.startTimestamp) : nowMs,
      nowMs,
      sizeBytes: size,
      completionTimeoutPerGiB: config.completionTimeoutPerGiB,
      progressTimeout: config.progressTimeout,
      tracker,
    });
    if (decision.action === 'abort') return this.abortForTimeout(vmim, status, decision.reason, decision.message);
    if (job.progress) {
      const block = toProgressBlock(job.progress);
      if (shouldPublish(status.progress, block, nowMs)) await this.writeStatus(vmim, { ...status, progress: block });
    }
    return { requeueAfterMs: nextPoll(job) };
  }

  private async abortForTimeout(vmim: VirtualMachineInstanceMigration, status: MigrationStatus, reason: FailureReason, message: string): Promise<ReconcileResult | void> {
    const uid = vmim.metadata.uid ?? '';
    const source = this.agent(status.migrationState?.sourceNode);
    const answer = source ? await this.callAgent(uid, () => source.abortMigration(uid)) : ({ ok: false, error: 'no live agent' } as const);
    if (answer.ok && answer.value.result === 'completed-first') return this.confirmArrival(vmim, status);
    if (answer.ok && (answer.value.result === 'aborted' || answer.value.result === 'not-found')) {
      await this.releaseTarget(vmim);
      const failed = await this.fail(vmim, reason, message);
      await this.mirror(vmim, failed);
      return;
    }
    // The abort did not take: keep trying; the agent-silence bound ends it.
    this.deps.log.warn({ migration: migrationKey(vmim), error: answer.ok ? answer.value : answer.error }, 'timeout abort not confirmed yet');
    return { requeueAfterMs: RETRY_AGENT_MS };
  }

  private async confirmArrival(vmim: VirtualMachineInstanceMigration, status: MigrationStatus): Promise<ReconcileResult | void> {
    const uid = vmim.metadata.uid ?? '';
    const target = this.agent(status.migrationState?.targetNode);
    const answer = target ? await this.callAgent(uid, () => target.confirmArrival(uid)) : ({ ok: false, error: 'no live agent on the target' } as const);
    if (answer.ok && answer.value.domainDetected) {
      const progress = status.progress ? { ...status.progress, percent: 100, dataRemainingBytes: 0, etaSeconds: 0, updatedAt: iso(this.now()) } : undefined;
      const succeeded = await this.transition(vmim, [{ phase: 'Succeeded' }], progress ? { progress } : undefined);
      await this.mirror(vmim, succeeded);
      return;
    }
    const config = this.configuration(vmim);
    const since = this.agentSilentSince.get(uid) ?? this.now();
    this.agentSilentSince.set(uid, since);
    if (this.now() - since > config.targetReadyTimeout * 1000) {
      const failed = await this.fail(vmim, FailureReason.TargetFailed, `the source finished but the target never saw the domain run (${answer.ok ? 'not detected' : answer.error})`);
      await this.mirror(vmim, failed);
      return;
    }
    return { requeueAfterMs: 200 };
  }

  private async releaseTarget(vmim: VirtualMachineInstanceMigration): Promise<void> {
    const uid = vmim.metadata.uid ?? '';
    const target = this.agent(vmim.status?.migrationState?.targetNode);
    if (!target) return;
    await target.releaseTarget(uid).catch((error: unknown) => {
      this.deps.log.warn({ migration: migrationKey(vmim), err: String(error) }, 'could not release the target; it frees itself when the agent restarts');
    });
  }

  /** A final migration: mirrored on the VMI, finalizer off, history pruned. */
  private async finalize(vmim: VirtualMachineInstanceMigration, status: MigrationStatus): Promise<void> {
    this.forgetSoftState(migrationKey(vmim));
    await this.mirror(vmim, status);
    const finalizers = vmim.metadata.finalizers ?? [];
    if (finalizers.includes(MIGRATION_FINALIZER)) {
      await this.deps.client.setFinalizers(VMIM_PLURAL, vmim.metadata, finalizers.filter((f) => f !== MIGRATION_FINALIZER));
      return;
    }
    const keep = this.deps.config().migrations.finishedMigrationsPerVMI;
    const ofVmi = this.deps.caches.vmims.list(vmim.metadata.namespace).filter((m) => m.spec.vmiName === vmim.spec.vmiName);
    for (const old of migrationsToPrune(ofVmi, keep)) await this.deps.client.delete(VMIM_PLURAL, old.metadata);
  }

  private forgetSoftState(key: string): void {
    const { namespace, name } = splitKey(key);
    const vmim = this.deps.caches.vmims.get(name, namespace);
    const uid = vmim?.metadata.uid;
    if (uid) {
      this.trackers.delete(uid);
      this.agentSilentSince.delete(uid);
    }
  }

  // ---- cancel ----

  private async reconcileDeletion(vmim: VirtualMachineInstanceMigration): Promise<ReconcileResult | void> {
    const status = vmim.status;
    if (isFinal(status?.phase)) return this.finalize(vmim, status ?? {});
    const nowMs = this.now();
    const plan = requestAbort(status, iso(nowMs));
    if (plan.kind === 'already-final') return this.finalize(vmim, plan.status);
    if (plan.kind === 'failed-now') {
      if (plan.releaseTarget) await this.releaseTarget(vmim);
      await this.writeStatus(vmim, plan.status);
      this.event(vmim, 'Normal', 'MigrationAborted', `cancelled in phase ${status?.phase ?? 'Pending'}; the VMI stays on its source`);
      this.deps.observe?.finished('Failed', FailureReason.Aborted);
      await this.mirror(vmim, plan.status);
      return;
    }
    // Running: ask the source to abort, and record that we asked.
    if (status?.migrationState?.abortStatus !== 'Aborting') {
      await this.writeStatus(vmim, plan.status);
      this.event(vmim, 'Normal', 'AbortRequested', 'the migration was deleted while running; aborting on the source');
      await this.mirror(vmim, plan.status);
      return;
    }
    const uid = vmim.metadata.uid ?? '';
    const source = this.agent(status.migrationState.sourceNode);
    const answer = source ? await this.callAgent(uid, () => source.abortMigration(uid)) : ({ ok: false, error: 'no live agent on the source' } as const);
    const nowIso = iso(this.now());
    let outcome: Parameters<typeof finishAbort>[1] | undefined;
    if (answer.ok) {
      const result = answer.value;
      if (result.result === 'aborted' || result.result === 'not-found') outcome = { result: 'aborted' };
      else if (result.result === 'completed-first') outcome = { result: 'completed-first' };
      else outcome = { result: 'failed', reason: FailureReason.SourceFailed, message: result.message };
    } else {
      const requestedAt = conditionOf(status, ABORT_REQUESTED_CONDITION)?.lastTransitionTime;
      const decision = abortingDecision({
        nowMs: this.now(),
        abortRequestedAtMs: requestedAt ? Date.parse(requestedAt) : this.now(),
        agentNode: status.migrationState.sourceNode,
        targetReadyTimeout: this.configuration(vmim).targetReadyTimeout,
      });
      if (decision.action === 'continue') return { requeueAfterMs: RETRY_AGENT_MS };
      outcome = { result: 'failed', reason: decision.reason, message: `${decision.message} (last error: ${answer.error})` };
    }
    const finished = finishAbort(status, outcome, nowIso);
    if (!finished.ok) throw new Error(`${migrationKey(vmim)}: ${finished.error}`);
    if (outcome.result === 'completed-first') {
      // The guest moved before the abort took: only the target can say it runs there.
      return this.confirmArrival(vmim, status);
    }
    await this.releaseTarget(vmim);
    await this.writeStatus(vmim, finished.status);
    this.event(vmim, outcome.result === 'aborted' ? 'Normal' : 'Warning', 'MigrationAborted', finished.status.migrationState?.failureReason ?? 'aborted');
    this.deps.observe?.finished('Failed', FailureReason.Aborted);
    await this.mirror(vmim, finished.status);
  }

  // ---- admission under the limits ----

  private async schedule(): Promise<ReconcileResult | void> {
    // The freshest view of each migration, so a slot freed by our own write counts as free at once.
    const all = this.deps.caches.vmims.list().map((m) => (this.written.has(migrationKey(m)) ? (this.current(m.metadata.namespace ?? '', m.metadata.name ?? '') ?? m) : m));
    this.forgetObservedAdmissions(all);
    const cluster = this.deps.config();
    const limits = cluster.migrations;
    const inFlight = [...inFlightFrom(all), ...this.unobservedAdmissions.values()];
    const nodes = this.deps.caches.nodes.list().map((node) => nodeFacts(node, this.deps.agents.agentFor(node.metadata?.name ?? '') !== undefined));
    const waiting = waitingFrom(all);
    const decision = admit(waiting, inFlight, limits, (migration, view) => {
      const vmi = this.vmiOf(migration.vmim);
      return chooseTarget(nodes, { sourceNode: migration.sourceNode, vmiNodeSelector: vmi?.spec?.nodeSelector, addedNodeSelector: migration.vmim.spec.addedNodeSelector }, view);
    });
    let nextDeadline: number | undefined;
    for (const { migration, targetNode } of decision.admitted) {
      const { vmim } = migration;
      try {
        // Scheduled and PreparingTarget in one write: nothing happens between them but this write.
        const status = await this.transition(vmim, [{ phase: 'Scheduled', targetNode }, { phase: 'PreparingTarget' }], {
          conditions: this.withWaiting(vmim, undefined),
        });
        if (status.phase === 'PreparingTarget') {
          this.unobservedAdmissions.set(migration.key, { key: migration.key, uid: vmim.metadata.uid ?? '', sourceNode: migration.sourceNode, targetNode });
        }
      } catch (error) {
        if (!isConflict(error) && !isNotFound(error)) throw error;
        nextDeadline = 50; // lost a race: look again at once
      }
    }
    // Why a migration waits is written when it starts waiting and when it flips between "waiting
    // for a slot" and "no eligible node" (which starts or stops the unschedulable timer) — not on
    // every flip between limits, which in a burst would cost a write per migration per pass.
    const writes: Array<() => Promise<unknown>> = [];
    for (const { migration, reason, message } of decision.held) {
      const { vmim } = migration;
      const current = conditionOf(vmim.status, WAITING_CONDITION);
      const nowMs = this.now();
      const unschedulable = reason === 'NoEligibleNode';
      if (!current || current.status !== 'False' || (current.reason === 'NoEligibleNode') !== unschedulable) {
        writes.push(() => this.writeStatus(vmim, { ...vmim.status, conditions: this.withWaiting(vmim, { reason, message }) }));
        continue;
      }
      if (!unschedulable) continue;
      const since = current.lastTransitionTime ? Date.parse(current.lastTransitionTime) : nowMs;
      const config = this.configuration(vmim);
      const wait = waitingDecision({
        phase: 'Scheduling',
        nowMs,
        waitingSinceMs: since,
        noEligibleTargetSinceMs: since,
        unschedulableTimeout: config.unschedulableTimeout,
        targetReadyTimeout: config.targetReadyTimeout,
      });
      if (wait.action === 'abort') {
        writes.push(() => this.fail(vmim, wait.reason, `${wait.message}: ${message}`));
      } else {
        const due = since + config.unschedulableTimeout * 1000 - nowMs;
        nextDeadline = Math.min(nextDeadline ?? due, due);
      }
    }
    await runBounded(writes, WRITE_CONCURRENCY, (error) => {
      if (!isConflict(error) && !isNotFound(error)) throw error;
    });
    return nextDeadline === undefined ? undefined : { requeueAfterMs: Math.max(50, nextDeadline) };
  }

  /** The Scheduling migration's "why am I waiting" condition, or none once admitted. */
  private withWaiting(vmim: VirtualMachineInstanceMigration, waiting: { reason: string; message: string } | undefined): Condition[] {
    const others = (vmim.status?.conditions ?? []).filter((c) => c.type !== WAITING_CONDITION);
    if (!waiting) return [...others, { type: WAITING_CONDITION, status: 'True', reason: 'SlotGranted', lastTransitionTime: iso(this.now()) }];
    return [...others, { type: WAITING_CONDITION, status: 'False', reason: waiting.reason, message: waiting.message, lastTransitionTime: iso(this.now()) }];
  }

  private forgetObservedAdmissions(all: readonly VirtualMachineInstanceMigration[]): void {
    if (this.unobservedAdmissions.size === 0) return;
    const byKey = new Map(all.map((m) => [migrationKey(m), m]));
    for (const [key, admission] of this.unobservedAdmissions) {
      const seen = byKey.get(key);
      // Seen once the cache shows the migration past Scheduling (it then counts itself), or gone.
      if (!seen || seen.metadata.uid !== admission.uid || (seen.status?.phase !== 'Scheduling' && seen.status?.phase !== 'Pending')) {
        this.unobservedAdmissions.delete(key);
      }
    }
  }
}

export { objectKey };
