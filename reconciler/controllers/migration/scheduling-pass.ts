// The scheduling pass: one pass at a time over every waiting migration decides, under the cluster,
// outbound and inbound limits (limits/slots.ts, pure), which start now and on which target
// (scheduling/target-choice.ts, pure), and writes why the others wait.
import type { Condition } from '../../../api/schemas/migration-state.js';
import type { VirtualMachineInstanceMigration } from '../../../api/schemas/vmim.js';
import { isConflict, isNotFound } from '../../../kube/kubevirt-client.js';
import { nodeFacts } from '../../agents/node-facts.js';
import type { ReconcileResult } from '../../controller-runner.js';
import { admit, inFlightFrom, migrationKey, oneInFlightPerVmi, waitingFrom, type InFlight } from '../../limits/slots.js';
import { chooseTarget } from '../../scheduling/target-choice.js';
import { waitingDecision } from '../../timeouts/policy.js';
import type { MigrationControllerDeps } from './deps.js';
import type { Dispatch } from './dispatch.js';
import type { StatusWriter } from './status-writer.js';

/** Why a migration in Scheduling waits; its lastTransitionTime is when that reason began. */
export const WAITING_CONDITION = 'Admitted';
/** Writes one scheduling pass makes at once (the API server's own flow control does the rest). */
const WRITE_CONCURRENCY = 8;

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

export class SchedulingPass {
  /** Admissions written but not yet seen in the cache: counted as in flight so no pass over-admits. */
  private readonly unobservedAdmissions = new Map<string, InFlight & { uid: string }>();

  constructor(
    private readonly deps: MigrationControllerDeps,
    private readonly writer: StatusWriter,
    private readonly dispatch: Dispatch,
  ) {}

  get pendingAdmissions(): number {
    return this.unobservedAdmissions.size;
  }

  async run(): Promise<ReconcileResult | void> {
    const all = this.writer.allMigrations();
    this.forgetObservedAdmissions(all);
    const limits = this.deps.config().migrations;
    const inFlight = [...inFlightFrom(all), ...this.unobservedAdmissions.values()];
    this.dispatch.keepOnly(new Set(all.filter((m) => m.status?.phase === 'Running').map((m) => m.metadata.uid ?? '')));
    const inFlightKeys = new Set(inFlight.map((f) => f.key));
    const busyVmis = new Map(all.filter((m) => inFlightKeys.has(migrationKey(m))).map((m) => [`${m.metadata.namespace}/${m.spec.vmiName}`, migrationKey(m)] as const));
    const drainTaintKey = limits.nodeDrainTaintKey;
    const nodes = this.deps.caches.nodes.list().map((node) => nodeFacts(node, this.deps.agents.agentFor(node.metadata?.name ?? '') !== undefined, drainTaintKey));
    const perVmi = oneInFlightPerVmi(waitingFrom(all), busyVmis);
    const decision = admit(perVmi.eligible, inFlight, limits, (migration, view) => {
      const vmi = this.writer.vmiOf(migration.vmim);
      return chooseTarget(nodes, { sourceNode: migration.sourceNode, vmiNodeSelector: vmi?.spec?.nodeSelector, addedNodeSelector: migration.vmim.spec.addedNodeSelector }, view);
    });
    decision.held.push(...perVmi.held);
    let nextDeadline: number | undefined;
    for (const { migration, targetNode } of decision.admitted) {
      const { vmim } = migration;
      try {
        // Scheduled and PreparingTarget in one write: nothing happens between them but this write.
        const status = await this.writer.transition(vmim, [{ phase: 'Scheduled', targetNode }, { phase: 'PreparingTarget' }], {
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
      const current = vmim.status?.conditions?.find((c) => c.type === WAITING_CONDITION);
      const nowMs = this.writer.now();
      const unschedulable = reason === 'NoEligibleNode';
      if (!current || current.status !== 'False' || (current.reason === 'NoEligibleNode') !== unschedulable) {
        writes.push(() => this.writer.commit(vmim, { ...vmim.status, conditions: this.withWaiting(vmim, { reason, message }) }));
        continue;
      }
      if (!unschedulable) continue;
      const since = current.lastTransitionTime ? Date.parse(current.lastTransitionTime) : nowMs;
      const config = this.dispatch.configuration(vmim);
      const wait = waitingDecision({
        phase: 'Scheduling',
        nowMs,
        waitingSinceMs: since,
        noEligibleTargetSinceMs: since,
        unschedulableTimeout: config.unschedulableTimeout,
        targetReadyTimeout: config.targetReadyTimeout,
      });
      if (wait.action === 'abort') {
        writes.push(() => this.writer.fail(vmim, wait.reason, `${wait.message}: ${message}`));
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
    const at = this.writer.nowIso();
    if (!waiting) return [...others, { type: WAITING_CONDITION, status: 'True', reason: 'SlotGranted', lastTransitionTime: at }];
    return [...others, { type: WAITING_CONDITION, status: 'False', reason: waiting.reason, message: waiting.message, lastTransitionTime: at }];
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
