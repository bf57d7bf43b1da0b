// Dispatch: moves a migration forward through its phases by calling the node agents — the target
// prepares, the source starts and reports progress, the target confirms arrival. Each step reads
// the freshest status, asks a pure function what to do, and commits through the StatusWriter.
import type { MigrationConfiguration } from '../../../api/schemas/migration-config.js';
import type { VirtualMachineInstanceMigration } from '../../../api/schemas/vmim.js';
import { parseQuantity } from '../../../api/quantity.js';
import { resolveForMigration } from '../../../api/migration-configuration.js';
import type { ReconcileResult } from '../../controller-runner.js';
import { FailureReason } from '../../failure-reasons.js';
import { migrationKey } from '../../limits/slots.js';
import { computeMigratability } from '../../migratability/live-migratable.js';
import type { MigrationStatus, PhaseChange } from '../../phases.js';
import { waitingDecision, type ProgressTracker } from '../../timeouts/policy.js';
import { vmiMigrationSize } from '../../timeouts/migration-size.js';
import { readGuestMemoryBytes } from '../../vmi/domain.js';
import { AgentCalls, type AgentAnswer } from './agent-calls.js';
import { Arrival } from './arrival.js';
import { afterAgentCall, agentSilentSince } from './clocks.js';
import type { MigrationControllerDeps } from './deps.js';
import { planRunning } from './running-plan.js';
import { SCHEDULER_KEY, withStatus, type StatusWriter } from './status-writer.js';
import { blockerOf, readinessOf } from './vmi-rules.js';

export const MIGRATION_RETRY_AGENT_MS = 1000;
const POLL_RUNNING_MS = 1000;

function stampMs(status: MigrationStatus | undefined, phase: string): number | undefined {
  const stamp = status?.phaseTransitionTimestamps?.find((p) => p.phase === phase)?.phaseTransitionTimestamp;
  const ms = stamp ? Date.parse(stamp) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}


export class Dispatch {
  /** This process's progress trackers, a cache over the ones published in status (see clocks.ts). */
  private readonly trackers = new Map<string, ProgressTracker>();
  readonly agents: AgentCalls;
  readonly arrival: Arrival;

  constructor(
    private readonly deps: MigrationControllerDeps,
    private readonly writer: StatusWriter,
    private readonly finalizer: string,
  ) {
    this.agents = new AgentCalls(deps);
    this.arrival = new Arrival(this.agents, writer, (vmim) => this.configuration(vmim).targetReadyTimeout);
  }

  forget(uid: string): void {
    this.trackers.delete(uid);
  }

  /** Drops what is remembered of migrations no longer in flight (deleted without a final reconcile). */
  keepOnly(inFlightUids: ReadonlySet<string>): void {
    for (const uid of this.trackers.keys()) if (!inFlightUids.has(uid)) this.trackers.delete(uid);
  }

  get remembered(): number {
    return this.trackers.size;
  }

  configuration(vmim: VirtualMachineInstanceMigration): MigrationConfiguration {
    return this.deps.effectiveConfiguration(this.deps.config(), vmim.status?.migrationState?.migrationConfiguration ?? vmim.spec.migrationConfiguration);
  }

  blocker(vmim: VirtualMachineInstanceMigration) {
    const namespace = vmim.metadata.namespace ?? '';
    return blockerOf(vmim, this.writer.vmiOf(vmim), (vmi) => computeMigratability(vmi, (claim) => this.deps.caches.pvcLookup(namespace, claim)));
  }

  async begin(vmim: VirtualMachineInstanceMigration): Promise<ReconcileResult | void> {
    // Without the webhook (or before it ran) the finalizer may be missing: cancel must still work.
    if (!(vmim.metadata.finalizers ?? []).includes(this.finalizer)) {
      await this.writer.setFinalizers(vmim, [...(vmim.metadata.finalizers ?? []), this.finalizer]);
      return;
    }
    const vmi = this.writer.vmiOf(vmim);
    // A VMI created just before its migration may not be in our cache yet: ask before failing.
    if (!vmi && (await this.deps.client.exists('virtualmachineinstances', vmim.metadata.namespace ?? '', vmim.spec.vmiName))) return { requeueAfterMs: 100 };
    // Stamped by the webhook: as stamped. Otherwise the policy that applies now (resolveForMigration).
    const { configuration, policyName } = resolveForMigration(this.deps.config(), vmim, () => (vmi ? this.deps.policyFor?.(vmi) : undefined));
    const pending: PhaseChange = {
      phase: 'Pending',
      migrationUid: vmim.metadata.uid ?? '',
      sourceNode: vmi?.status?.nodeName ?? '',
      migrationConfiguration: configuration,
      ...(policyName ? { migrationPolicyName: policyName } : {}),
    };
    // A VMI not running or not evaluated yet is waited for in Scheduling (scheduling-pass.ts).
    const readiness = readinessOf(vmim, vmi);
    const blocker = readiness.kind === 'fail' ? readiness.blocker : readiness.kind === 'ready' ? this.blocker(vmim) : undefined;
    await this.writer.transition(vmim, blocker ? [pending, { phase: 'Failed', reason: blocker.reason, message: blocker.message }] : [pending, { phase: 'Scheduling' }]);
  }

  async step(vmim: VirtualMachineInstanceMigration, status: MigrationStatus): Promise<ReconcileResult | void> {
    switch (status.phase) {
      case 'Pending':
        await this.writer.transition(vmim, [{ phase: 'Scheduling' }]);
        return;
      case 'Scheduling':
        this.deps.queue.add(SCHEDULER_KEY);
        return;
      case 'Scheduled':
        await this.writer.transition(vmim, [{ phase: 'PreparingTarget' }]);
        return;
      case 'PreparingTarget':
        return this.prepareTarget(vmim, status);
      case 'TargetReady':
        return this.startOnSource(vmim, status);
      case 'Running':
        return this.watchRunning(vmim, status);
      default:
        return;
    }
  }

  /** Before each agent call: a VMI that can no longer migrate ends the migration and frees the target. */
  private async failedOnBlocker(vmim: VirtualMachineInstanceMigration): Promise<boolean> {
    const blocker = this.blocker(vmim);
    if (!blocker) return false;
    await this.agents.releaseTarget(vmim, this.deps.log);
    await this.writer.fail(vmim, blocker.reason, blocker.message);
    return true;
  }

  private async prepareTarget(vmim: VirtualMachineInstanceMigration, status: MigrationStatus): Promise<ReconcileResult | void> {
    if (await this.failedOnBlocker(vmim)) return;
    const uid = vmim.metadata.uid ?? '';
    const vmi = this.writer.vmiOf(vmim);
    const { answer, clock } = await this.agents.call(vmim, status, status.migrationState?.targetNode, this.writer.nowIso(), (target) =>
      target.prepareTarget({
        migrationUid: uid,
        vmi: { namespace: vmim.metadata.namespace ?? '', name: vmim.spec.vmiName, uid: vmi?.metadata.uid },
        sourceNode: status.migrationState?.sourceNode ?? '',
        memoryBytes: readGuestMemoryBytes(vmi?.spec) ?? 0,
        annotations: vmi?.metadata.annotations,
      }),
    );
    const base = withStatus(vmim, clock ?? status);
    if (answer.ok) {
      await this.writer.transition(base, [{ phase: 'TargetReady', ...answer.value }]);
      return;
    }
    return this.afterFailedCall(base, answer, 'target', stampMs(status, 'Scheduled'), clock !== undefined);
  }

  private async startOnSource(vmim: VirtualMachineInstanceMigration, status: MigrationStatus): Promise<ReconcileResult | void> {
    const state = status.migrationState ?? {};
    const blocker = this.blocker(vmim);
    if (blocker) return this.stopAfterStart(vmim, status, blocker.reason, blocker.message);
    const uid = vmim.metadata.uid ?? '';
    const vmi = this.writer.vmiOf(vmim);
    const config = this.configuration(vmim);
    // Cluster-wide, read when the migration starts (as KubeVirt treats it): never per migration.
    const disableTLS = this.deps.config().migrations.disableTLS;
    const { answer, clock } = await this.agents.call(vmim, status, state.sourceNode, this.writer.nowIso(), (source) =>
      source.startMigration({
        migrationUid: uid,
        vmi: { namespace: vmim.metadata.namespace ?? '', name: vmim.spec.vmiName, uid: vmi?.metadata.uid },
        destination: { nodeName: state.targetNode ?? '', address: state.targetNodeAddress ?? '', ports: state.targetDirectMigrationNodePorts ?? {} },
        bandwidthBytesPerSecond: parseQuantity(config.bandwidthPerMigration),
        maxDowntimeMs: config.maxDowntimeMs,
        allowAutoConverge: config.allowAutoConverge,
        allowPostCopy: config.allowPostCopy,
        ...(disableTLS ? { disableTLS: true } : {}),
        memoryBytes: readGuestMemoryBytes(vmi?.spec) ?? 0,
        annotations: vmi?.metadata.annotations,
      }),
    );
    const base = withStatus(vmim, clock ?? status);
    if (answer.ok && disableTLS) {
      this.writer.event(vmim, 'Warning', 'MigrationNotEncrypted', 'the migration stream runs without TLS: kubevirt-config migrations.disableTLS is true, so guest memory crosses the network in clear text');
    }
    if (answer.ok) {
      // The VMI names this migration before the VMIM says Running (the writer mirrors first).
      await this.writer.transition(base, [{ phase: 'Running' }]);
      this.deps.observe?.dispatched(migrationKey(vmim));
      return { requeueAfterMs: POLL_RUNNING_MS };
    }
    if (answer.refused) return this.stopAfterStart(base, clock ?? status, FailureReason.SourceFailed, `the source agent refused: ${answer.error}`);
    const decision = this.waitingDecisionFor(base, clock ?? status, stampMs(status, 'TargetReady'), state.sourceNode);
    if (decision.action === 'abort') return this.stopAfterStart(base, clock ?? status, decision.reason, `${decision.message} (last error: ${answer.error})`);
    if (clock) await this.writer.commit(vmim, clock);
    return { requeueAfterMs: MIGRATION_RETRY_AGENT_MS };
  }

  /**
   * Ends a migration in TargetReady: a start may have reached the source even though we never saw
   * its answer (a timeout, a crash between call and write), so the source is told to abort first.
   * If it had already finished, the migration succeeded and is reported so.
   */
  private async stopAfterStart(vmim: VirtualMachineInstanceMigration, status: MigrationStatus, reason: FailureReason, message: string): Promise<ReconcileResult | void> {
    const { answer } = await this.agents.call(vmim, status, status.migrationState?.sourceNode, this.writer.nowIso(), (source) => source.abortMigration(vmim.metadata.uid ?? ''));
    if (answer.ok && answer.value.result === 'completed-first') {
      return this.arrival.confirm(vmim, status, (s) => this.writer.transition(withStatus(vmim, s), [{ phase: 'Running' }, { phase: 'Succeeded' }]));
    }
    await this.agents.releaseTarget(vmim, this.deps.log);
    await this.writer.fail(withStatus(vmim, status), reason, message);
  }

  private waitingDecisionFor(vmim: VirtualMachineInstanceMigration, status: MigrationStatus, since: number | undefined, agentNode: string | undefined) {
    const config = this.configuration(vmim);
    return waitingDecision({
      phase: status.phase ?? 'Pending',
      nowMs: this.writer.now(),
      waitingSinceMs: since ?? this.writer.now(),
      agentSilentSinceMs: agentSilentSince(status),
      agentNode,
      unschedulableTimeout: config.unschedulableTimeout,
      targetReadyTimeout: config.targetReadyTimeout,
    });
  }

  /** A prepare the agent did not carry out: fail now if it refused, else wait within bounds. */
  private async afterFailedCall(vmim: VirtualMachineInstanceMigration, answer: Extract<AgentAnswer<unknown>, { ok: false }>, agent: 'target' | 'source', since: number | undefined, clockMoved: boolean): Promise<ReconcileResult | void> {
    const status = vmim.status ?? {};
    const node = agent === 'target' ? status.migrationState?.targetNode : status.migrationState?.sourceNode;
    if (answer.refused) {
      await this.agents.releaseTarget(vmim, this.deps.log);
      await this.writer.fail(vmim, agent === 'target' ? FailureReason.TargetFailed : FailureReason.SourceFailed, `the ${agent} agent refused: ${answer.error}`);
      return;
    }
    const decision = this.waitingDecisionFor(vmim, status, since, node);
    if (decision.action === 'abort') {
      await this.agents.releaseTarget(vmim, this.deps.log);
      await this.writer.fail(vmim, decision.reason, `${decision.message} (last error: ${answer.error})`);
      return;
    }
    if (clockMoved) await this.writer.commit(vmim, status);
    return { requeueAfterMs: MIGRATION_RETRY_AGENT_MS };
  }

  private async watchRunning(vmim: VirtualMachineInstanceMigration, status: MigrationStatus): Promise<ReconcileResult | void> {
    const uid = vmim.metadata.uid ?? '';
    const state = status.migrationState ?? {};
    const { answer, clock } = await this.agents.call(vmim, status, state.sourceNode, this.writer.nowIso(), (source) => source.migrationStatus(uid));
    const base = clock ?? status;
    const config = this.configuration(vmim);
    if (!answer.ok) {
      const decision = this.waitingDecisionFor(vmim, base, agentSilentSince(base), state.sourceNode);
      if (decision.action === 'abort') {
        // The source is unreachable: we cannot know the guest moved, so we say what we know.
        await this.writer.fail(withStatus(vmim, base), decision.reason, `${decision.message}; the outcome on the node is unknown (last error: ${answer.error})`);
        return;
      }
      if (clock) await this.writer.commit(vmim, clock);
      return { requeueAfterMs: MIGRATION_RETRY_AGENT_MS };
    }
    if (!answer.value) {
      await this.writer.fail(withStatus(vmim, base), FailureReason.SourceFailed, `the agent on ${state.sourceNode} has no record of this migration`);
      return;
    }
    const vmi = this.writer.vmiOf(vmim);
    const method = vmi?.status?.migrationMethod ?? 'LiveMigration';
    const localVolumes = vmi ? computeMigratability(vmi, (c) => this.deps.caches.pvcLookup(vmim.metadata.namespace ?? '', c)).localVolumes : [];
    const plan = planRunning({
      status: base,
      job: answer.value,
      nowMs: this.writer.now(),
      remembered: this.trackers.get(uid),
      sizeBytes: vmi ? vmiMigrationSize(vmi, method, localVolumes).sizeBytes : 0,
      completionTimeoutPerGiB: config.completionTimeoutPerGiB,
      progressTimeout: config.progressTimeout,
    });
    switch (plan.kind) {
      case 'confirm-arrival':
        return this.arrival.confirm(withStatus(vmim, base), base, (s) => this.succeed(vmim, s));
      case 'fail':
        await this.agents.releaseTarget(vmim, this.deps.log);
        await this.writer.fail(withStatus(vmim, base), plan.reason, plan.message);
        return;
      case 'abort-for-timeout':
        this.trackers.set(uid, plan.tracker);
        return this.abortForTimeout(withStatus(vmim, base), base, plan.reason, plan.message);
      case 'continue':
        this.trackers.set(uid, plan.tracker);
        if (plan.progress || clock) await this.writer.commit(vmim, plan.progress ? { ...base, progress: plan.progress } : base);
        return { requeueAfterMs: plan.pollAfterMs };
    }
  }

  /** A deadline passed while Running: abort on the source, then fail with the deadline's reason. */
  private async abortForTimeout(vmim: VirtualMachineInstanceMigration, status: MigrationStatus, reason: FailureReason, message: string): Promise<ReconcileResult | void> {
    const { answer, clock } = await this.agents.call(vmim, status, status.migrationState?.sourceNode, this.writer.nowIso(), (source) => source.abortMigration(vmim.metadata.uid ?? ''));
    if (answer.ok && answer.value.result === 'completed-first') return this.arrival.confirm(vmim, status, (s) => this.succeed(vmim, s));
    if (answer.ok && (answer.value.result === 'aborted' || answer.value.result === 'not-found')) {
      await this.agents.releaseTarget(vmim, this.deps.log);
      await this.writer.fail(withStatus(vmim, clock ?? status), reason, message);
      return;
    }
    // The abort did not take: keep trying; the agent-silence bound ends it.
    this.deps.log.warn({ migration: migrationKey(vmim), error: answer.ok ? answer.value : answer.error }, 'timeout abort not confirmed yet');
    const silent = answer.ok ? afterAgentCall(status, false, status.migrationState?.sourceNode, this.writer.nowIso(), answer.value.result) : clock;
    const decision = this.waitingDecisionFor(vmim, silent ?? status, undefined, status.migrationState?.sourceNode);
    if (decision.action === 'abort') {
      await this.writer.fail(withStatus(vmim, silent ?? status), reason, `${message}; the abort was not confirmed (${decision.message}), the outcome on the node is unknown`);
      return;
    }
    if (silent) await this.writer.commit(vmim, silent);
    return { requeueAfterMs: MIGRATION_RETRY_AGENT_MS };
  }

  private async succeed(vmim: VirtualMachineInstanceMigration, status: MigrationStatus): Promise<void> {
    const progress = status.progress ? { ...status.progress, percent: 100, dataRemainingBytes: 0, etaSeconds: 0, updatedAt: this.writer.nowIso() } : undefined;
    await this.writer.transition(withStatus(vmim, status), [{ phase: 'Succeeded' }], progress ? { progress } : undefined);
  }
}
