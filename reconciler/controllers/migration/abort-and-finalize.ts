// Ending migrations other than by success: cancel (the VMIM deleted), a VMI that shut down or
// vanished under its migration, and the last steps of every final migration (finalizer off,
// history pruned, migrations of a VMI that no longer exists deleted).
import type { AbortResult } from '../../../agent/contract.js';
import type { VirtualMachineInstanceMigration } from '../../../api/schemas/vmim.js';
import { VMI_PLURAL } from '../../../kube/kubevirt-client.js';
import type { ReconcileResult } from '../../controller-runner.js';
import { FailureReason } from '../../failure-reasons.js';
import { migrationsToPrune } from '../../history/prune.js';
import { ABORT_REQUESTED_CONDITION, finishAbort, requestAbort, type AbortOutcome, type MigrationStatus } from '../../phases.js';
import { abortingDecision } from '../../timeouts/policy.js';
import type { MigrationControllerDeps } from './deps.js';
import { MIGRATION_RETRY_AGENT_MS, type Dispatch } from './dispatch.js';
import { showsOnVmi, withStatus, type StatusWriter } from './status-writer.js';
import { VMI_SHUTDOWN_MESSAGE } from './vmi-rules.js';

/** What the source agent's answer to an abort means for the migration (pure). */
export function abortOutcomeOf(result: AbortResult): AbortOutcome {
  switch (result.result) {
    case 'aborted':
    case 'not-found':
      return { result: 'aborted' };
    case 'completed-first':
      return { result: 'completed-first' };
    case 'failed':
      return { result: 'failed', reason: FailureReason.SourceFailed, message: result.message };
  }
}

export class AbortAndFinalize {
  constructor(
    private readonly deps: MigrationControllerDeps,
    private readonly writer: StatusWriter,
    private readonly dispatch: Dispatch,
    private readonly finalizer: string,
  ) {}

  /** Cancel: the VMIM was deleted. Idempotent in every phase; the finalizer holds it until final. */
  async onDeleted(vmim: VirtualMachineInstanceMigration): Promise<ReconcileResult | void> {
    const status = vmim.status ?? {};
    const plan = requestAbort(status, this.writer.nowIso());
    if (plan.kind === 'already-final') return this.finalize(vmim, plan.status);
    if (plan.kind === 'failed-now') {
      if (plan.releaseTarget) await this.dispatch.agents.releaseTarget(vmim, this.deps.log);
      await this.writer.commitFinal(vmim, plan.status, 'Normal', 'MigrationAborted', `cancelled in phase ${status.phase ?? 'Pending'}; the VMI stays on its source`);
      return;
    }
    if (status.migrationState?.abortStatus !== 'Aborting') {
      // Recorded first (VMI, then VMIM), so a restart goes on aborting instead of starting.
      await this.writer.commit(vmim, plan.status);
      this.writer.event(vmim, 'Normal', 'AbortRequested', `the migration was deleted in phase ${status.phase}; aborting on the source`);
      return;
    }
    const source = status.migrationState.sourceNode;
    const { answer, clock } = await this.dispatch.agents.call(vmim, status, source, this.writer.nowIso(), (agent) => agent.abortMigration(vmim.metadata.uid ?? ''));
    let outcome: AbortOutcome;
    if (answer.ok) {
      outcome = abortOutcomeOf(answer.value);
    } else {
      const requestedAt = status.conditions?.find((c) => c.type === ABORT_REQUESTED_CONDITION)?.lastTransitionTime;
      const decision = abortingDecision({
        nowMs: this.writer.now(),
        abortRequestedAtMs: requestedAt ? Date.parse(requestedAt) : this.writer.now(),
        agentNode: source,
        targetReadyTimeout: this.dispatch.configuration(vmim).targetReadyTimeout,
      });
      if (decision.action === 'continue') {
        if (clock) await this.writer.commit(vmim, clock);
        return { requeueAfterMs: MIGRATION_RETRY_AGENT_MS };
      }
      outcome = { result: 'failed', reason: decision.reason, message: `${decision.message} (last error: ${answer.error})` };
    }
    const base = clock ?? status;
    if (outcome.result === 'completed-first') {
      // The guest moved before the abort took: only the target can say it runs there.
      return this.dispatch.arrival.confirm(
        withStatus(vmim, base),
        base,
        (s) => this.commitAbortEnd(vmim, s, { result: 'completed-first' }),
        (s, message) => this.commitAbortEnd(vmim, s, { result: 'failed', reason: FailureReason.TargetFailed, message }),
      );
    }
    await this.dispatch.agents.releaseTarget(vmim, this.deps.log);
    await this.commitAbortEnd(vmim, base, outcome);
  }

  private async commitAbortEnd(vmim: VirtualMachineInstanceMigration, status: MigrationStatus, outcome: AbortOutcome): Promise<void> {
    const finished = finishAbort(status, outcome, this.writer.nowIso());
    if (!finished.ok) throw new Error(`${vmim.metadata.namespace}/${vmim.metadata.name}: ${finished.error}`);
    const type = outcome.result === 'aborted' ? 'Normal' : 'Warning';
    await this.writer.commitFinal(vmim, finished.status, type, 'MigrationAborted', finished.status.migrationState?.failureReason ?? 'the switch-over happened before the abort');
  }

  /**
   * The VMI stopped, is being deleted or is gone while its migration was in flight: abort the job
   * on both nodes and fail with KubeVirt's text. The migration's VMIM is deleted once final if the
   * VMI no longer exists (finalize).
   */
  async onVmiShutDown(vmim: VirtualMachineInstanceMigration, status: MigrationStatus): Promise<ReconcileResult | void> {
    if (showsOnVmi(status)) {
      const { answer } = await this.dispatch.agents.call(vmim, status, status.migrationState?.sourceNode, this.writer.nowIso(), (agent) => agent.abortMigration(vmim.metadata.uid ?? ''));
      if (!answer.ok) this.deps.log.warn({ migration: `${vmim.metadata.namespace}/${vmim.metadata.name}`, error: answer.error }, 'could not abort on the source after the VMI shut down');
    }
    if (status.migrationState?.targetNode) await this.dispatch.agents.releaseTarget(vmim, this.deps.log);
    await this.writer.fail(vmim, FailureReason.VmiGone, VMI_SHUTDOWN_MESSAGE);
  }

  /** A final migration: mirrored on the VMI, finalizer off, history pruned, orphans deleted. */
  async finalize(vmim: VirtualMachineInstanceMigration, status: MigrationStatus): Promise<ReconcileResult | void> {
    this.dispatch.forget(vmim.metadata.uid ?? '');
    if (this.writer.mustMirror(vmim, status)) await this.writer.mirror(vmim, status);
    const finalizers = vmim.metadata.finalizers ?? [];
    if (finalizers.includes(this.finalizer)) {
      await this.writer.setFinalizers(vmim, finalizers.filter((f) => f !== this.finalizer));
      return;
    }
    if (vmim.metadata.deletionTimestamp) return;
    if (!this.writer.vmiOf(vmim) && !(await this.deps.client.exists(VMI_PLURAL, vmim.metadata.namespace ?? '', vmim.spec.vmiName))) {
      await this.writer.delete(vmim);
      return;
    }
    const keep = this.deps.config().migrations.finishedMigrationsPerVMI;
    const ofVmi = this.deps.caches.vmims.list(vmim.metadata.namespace).filter((m) => m.spec.vmiName === vmim.spec.vmiName);
    for (const old of migrationsToPrune(ofVmi, keep)) await this.writer.delete(old);
  }
}
