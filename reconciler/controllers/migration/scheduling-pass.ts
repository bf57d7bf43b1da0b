// The scheduling pass: one pass at a time over every waiting migration decides, under the cluster,
// outbound and inbound limits (limits/slots.ts, pure), which start now and on which target
// (scheduling/target-choice.ts, pure), and writes why the others wait (waiting-plan.ts, pure). A
// migration whose VMI is not running or not evaluated yet waits here too (vmi-rules.ts, pure).
import type { Condition } from '../../../api/schemas/migration-state.js';
import type { VirtualMachineInstanceMigration } from '../../../api/schemas/vmim.js';
import { isConflict, isNotFound } from '../../../kube/kubevirt-client.js';
import { nodeFacts } from '../../agents/node-facts.js';
import type { ReconcileResult } from '../../controller-runner.js';
import { admit, inFlightFrom, migrationKey, oneInFlightPerVmi, waitingFrom, type InFlight, type Waiting } from '../../limits/slots.js';
import { tolerationsOf } from '../../scheduling/taints.js';
import { chooseTarget } from '../../scheduling/target-choice.js';
import type { MigrationControllerDeps } from './deps.js';
import type { Dispatch } from './dispatch.js';
import type { StatusWriter } from './status-writer.js';
import { readinessOf } from './vmi-rules.js';
import { planHold, WAITING_CONDITION, type Hold } from './waiting-plan.js';

export { WAITING_CONDITION };
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
    // The VMI first: one not running or not evaluated yet waits, one that cannot migrate fails.
    type Queued = (typeof perVmi.eligible)[number];
    const ready: Queued[] = [];
    const holds: Array<Hold & { migration: Waiting & { vmim: VirtualMachineInstanceMigration } }> = [...perVmi.held];
    const writes: Array<() => Promise<unknown>> = [];
    for (const migration of perVmi.eligible) {
      const readiness = readinessOf(migration.vmim, this.writer.vmiOf(migration.vmim));
      if (readiness.kind === 'ready') ready.push({ ...migration, sourceNode: migration.sourceNode || readiness.sourceNode });
      else if (readiness.kind === 'wait') holds.push({ migration, reason: readiness.reason, message: readiness.message });
      else writes.push(() => this.writer.fail(migration.vmim, readiness.blocker.reason, readiness.blocker.message));
    }
    const decision = admit(ready, inFlight, limits, (migration, view) => {
      const vmi = this.writer.vmiOf(migration.vmim);
      return chooseTarget(
        nodes,
        { sourceNode: migration.sourceNode, vmiNodeSelector: vmi?.spec?.nodeSelector, addedNodeSelector: migration.vmim.spec.addedNodeSelector, tolerations: tolerationsOf(vmi?.spec) },
        view,
      );
    });
    holds.push(...decision.held);
    let nextDeadline: number | undefined;
    for (const { migration, targetNode } of decision.admitted) {
      const { vmim } = migration;
      // The source is known only now when the VMI was not running yet at Pending.
      const sourceNode = vmim.status?.migrationState?.sourceNode ? undefined : migration.sourceNode;
      try {
        // Scheduled and PreparingTarget in one write: nothing happens between them but this write.
        const status = await this.writer.transition(vmim, [{ phase: 'Scheduled', targetNode, sourceNode }, { phase: 'PreparingTarget' }], {
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
    for (const { migration, reason, message } of holds) {
      const { vmim } = migration;
      const current = vmim.status?.conditions?.find((c) => c.type === WAITING_CONDITION);
      const config = this.dispatch.configuration(vmim);
      const plan = planHold(current, { reason, message }, this.writer.now(), config);
      if (plan.action === 'write') {
        writes.push(() => this.writer.commit(vmim, { ...vmim.status, conditions: this.withWaiting(vmim, plan.condition) }));
      } else if (plan.action === 'fail') {
        writes.push(() => this.writer.fail(vmim, plan.reason, plan.message));
      } else if (plan.dueInMs !== undefined) {
        nextDeadline = Math.min(nextDeadline ?? plan.dueInMs, plan.dueInMs);
      }
    }
    await runBounded(writes, WRITE_CONCURRENCY, (error) => {
      if (!isConflict(error) && !isNotFound(error)) throw error;
    });
    return nextDeadline === undefined ? undefined : { requeueAfterMs: Math.max(50, nextDeadline) };
  }

  /** The Scheduling migration's "why am I waiting" condition, or SlotGranted once admitted. */
  private withWaiting(vmim: VirtualMachineInstanceMigration, waiting: Condition | undefined): Condition[] {
    const others = (vmim.status?.conditions ?? []).filter((c) => c.type !== WAITING_CONDITION);
    if (waiting) return [...others, waiting];
    return [...others, { type: WAITING_CONDITION, status: 'True', reason: 'SlotGranted', lastTransitionTime: this.writer.nowIso() }];
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
