// Arrival: the source says the guest left, and only the target can say it runs there. The wait
// for the target's word has its own clock in status (clocks.ts), bounded by targetReadyTimeout.
import type { NodeAgentApi } from '../../../agent/contract.js';
import type { VirtualMachineInstanceMigration } from '../../../api/schemas/vmim.js';
import type { ReconcileResult } from '../../controller-runner.js';
import { FailureReason } from '../../failure-reasons.js';
import type { MigrationStatus } from '../../phases.js';
import type { AgentCalls } from './agent-calls.js';
import { afterArrivalConfirmed, afterArrivalUnconfirmed, arrivalWaitingSince } from './clocks.js';
import { withStatus, type StatusWriter } from './status-writer.js';

/** Builds the final status once the target confirmed the guest runs there. */
export type ArrivalOutcome = (status: MigrationStatus) => Promise<unknown>;
/** Ends the migration when the target never confirmed (default: Failed, TargetFailed). */
export type GiveUp = (status: MigrationStatus, message: string) => Promise<unknown>;

export class Arrival {
  constructor(
    private readonly agents: AgentCalls,
    private readonly writer: StatusWriter,
    private readonly targetReadyTimeout: (vmim: VirtualMachineInstanceMigration) => number,
  ) {}

  /**
   * The source says the guest left: only the target can say it runs there. Bounded by
   * targetReadyTimeout from the first time the target did not confirm (its own clock in status,
   * not the agent-silence one, which the source's answers keep resetting).
   */
  async confirm(vmim: VirtualMachineInstanceMigration, status: MigrationStatus, onArrived: ArrivalOutcome, onGiveUp?: GiveUp): Promise<ReconcileResult | void> {
    const uid = vmim.metadata.uid ?? '';
    const targetNode = status.migrationState?.targetNode;
    const target: NodeAgentApi | undefined = this.agents.agent(targetNode);
    let detail = `no live agent on ${targetNode}`;
    if (target) {
      try {
        if ((await target.confirmArrival(uid)).domainDetected) {
          await onArrived(afterArrivalConfirmed(status, this.writer.nowIso()));
          return;
        }
        detail = 'not detected';
      } catch (error) {
        detail = String(error instanceof Error ? error.message : error);
      }
    }
    const clock = afterArrivalUnconfirmed(status, this.writer.nowIso(), `arrival not confirmed: ${detail}`);
    const since = arrivalWaitingSince(clock ?? status) ?? this.writer.now();
    if (this.writer.now() - since >= this.targetReadyTimeout(vmim) * 1000) {
      const message = `the source finished but the target never saw the domain run (${detail})`;
      if (onGiveUp) await onGiveUp(clock ?? status, message);
      else await this.writer.fail(withStatus(vmim, clock ?? status), FailureReason.TargetFailed, message);
      return;
    }
    if (clock) await this.writer.commit(vmim, clock);
    return { requeueAfterMs: 200 };
  }
}
