// The migration controller: moves each VMIM through its phases, dispatches to node agents,
// enforces timeouts and turns deletion into an abort. Level-triggered: every reconcile reads the
// caches (through this controller's own newer writes), asks pure functions what to do, and makes
// a few guarded writes; a write that lost a race (409) is retried from a fresh read.
//
// Two kinds of keys share one queue:
// - "<namespace>/<name>": one migration's own progress (dispatch.ts, abort-and-finalize.ts);
// - SCHEDULER_KEY: the single admission pass over every waiting migration (scheduling-pass.ts).
// Every status write goes through status-writer.ts, which writes the VMI before the VMIM.
import type { VirtualMachineInstance } from '../../../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../../../api/schemas/vmim.js';
import { MIGRATION_FINALIZER } from '../../../api/names.js';
import { VMI_PLURAL, isConflict, isNotFound } from '../../../kube/kubevirt-client.js';
import type { ReconcileResult } from '../../controller-runner.js';
import { migrationKey } from '../../limits/slots.js';
import { isFinal } from '../../phases.js';
import { AbortAndFinalize } from './abort-and-finalize.js';
import { NotLeader, type MigrationControllerDeps } from './deps.js';
import { Dispatch } from './dispatch.js';
import { SchedulingPass } from './scheduling-pass.js';
import { SCHEDULER_KEY, StatusWriter } from './status-writer.js';
import { splitKey } from '../vmi-migratability.js';
import { vmiShutDown } from './vmi-rules.js';

export { SCHEDULER_KEY };
export type { MigrationControllerDeps, MigrationObserver, MigrationControllerCaches } from './deps.js';

export class MigrationController {
  private readonly writer: StatusWriter;
  private readonly dispatch: Dispatch;
  private readonly ending: AbortAndFinalize;
  private readonly scheduling: SchedulingPass;

  constructor(private readonly deps: MigrationControllerDeps) {
    this.writer = new StatusWriter(deps);
    this.dispatch = new Dispatch(deps, this.writer, MIGRATION_FINALIZER);
    this.ending = new AbortAndFinalize(deps, this.writer, this.dispatch, MIGRATION_FINALIZER);
    this.scheduling = new SchedulingPass(deps, this.writer, this.dispatch);
  }

  /** Per-migration entries held in memory (for the memory benchmark: must not grow with history). */
  get softStateSize(): number {
    return this.dispatch.remembered + this.scheduling.pendingAdmissions;
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

  /**
   * A VMI change matters to its in-flight migrations (it stopped, it moved); its deletion also to
   * its final ones, which are then deleted (a VMI's every own write would otherwise wake them all).
   */
  onVmiEvent = (event: string, vmi: VirtualMachineInstance): void => {
    for (const vmim of this.deps.caches.vmims.list(vmi.metadata.namespace)) {
      if (vmim.spec.vmiName !== vmi.metadata.name) continue;
      if (event === 'delete' || !isFinal(vmim.status?.phase)) this.deps.queue.add(migrationKey(vmim));
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
      if (key === SCHEDULER_KEY) return await this.scheduling.run();
      return await this.reconcileMigration(key);
    } catch (error) {
      // Lost a race with another write, or with a deletion: look again from a fresh read.
      if (isConflict(error) || error instanceof NotLeader) return { requeueAfterMs: 50 };
      if (isNotFound(error)) return;
      throw error;
    }
  };

  private async reconcileMigration(key: string): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    const vmim = this.writer.migration(namespace, name);
    if (!vmim) return;
    const status = vmim.status ?? {};
    if (isFinal(status.phase)) return this.ending.finalize(vmim, status);
    if (vmim.metadata.deletionTimestamp) return this.ending.onDeleted(vmim);
    if (status.phase === undefined) return this.dispatch.begin(vmim);
    if (vmiShutDown(this.writer.vmiOf(vmim))) {
      // Confirm "gone" with a live read: a cache that lags must not end a healthy migration.
      const vmi = this.writer.vmiOf(vmim);
      if (!vmi && (await this.deps.client.exists(VMI_PLURAL, namespace, vmim.spec.vmiName))) return { requeueAfterMs: 100 };
      return this.ending.onVmiShutDown(vmim, status);
    }
    return this.dispatch.step(vmim, status);
  }
}
