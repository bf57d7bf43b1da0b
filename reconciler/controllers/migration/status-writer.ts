// Every write the migration controller makes to a VMIM or its VMI goes through here, so the order
// of truth holds in one place: when a migration's new status is one the VMI must show (it was
// handed to the nodes, it runs, it ended), the VMI is written FIRST and the VMIM second — as
// KubeVirt does. A client that sees the VMIM final (or Running) then reads a VMI that agrees.
import type { VirtualMachineInstance } from '../../../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../../../api/schemas/vmim.js';
import { mergePatchBetween } from '../../../common/merge-patch.js';
import { VMIM_PLURAL, VMI_PLURAL } from '../../../kube/kubevirt-client.js';
import { FailureReason } from '../../failure-reasons.js';
import { migrationKey } from '../../limits/slots.js';
import { applyPhase, type MigrationStatus, type PhaseChange } from '../../phases.js';
import { mirrorToVmi } from '../../vmi-mirror.js';
import { NotLeader, type MigrationControllerDeps } from './deps.js';
import { ReadYourWrites } from './read-your-writes.js';

export const SCHEDULER_KEY = '~scheduler';

const iso = (ms: number) => new Date(ms).toISOString();

/** The migration as it would be with `status` (the base of the next write, same resourceVersion). */
export const withStatus = (vmim: VirtualMachineInstanceMigration, status: MigrationStatus): VirtualMachineInstanceMigration => ({ ...vmim, status });

/**
 * Whether the VMI must show this status: from the hand-off to the nodes (TargetReady) on. A
 * migration that ended before it never touched the nodes and leaves the VMI's record alone.
 */
export function showsOnVmi(status: MigrationStatus): boolean {
  return (status.phaseTransitionTimestamps ?? []).some((p) => p.phase === 'TargetReady');
}

export class StatusWriter {
  private readonly migrations = new ReadYourWrites<VirtualMachineInstanceMigration>();
  private readonly vmis = new ReadYourWrites<VirtualMachineInstance>();
  readonly now: () => number;

  constructor(private readonly deps: MigrationControllerDeps) {
    this.now = deps.now ?? Date.now;
  }

  nowIso(): string {
    return iso(this.now());
  }

  // ---- reads: the cache, or our own newer write ----

  migration(namespace: string, name: string): VirtualMachineInstanceMigration | undefined {
    return this.migrations.freshest(`${namespace}/${name}`, this.deps.caches.vmims.get(name, namespace));
  }

  /** Every migration, each at its freshest (a slot freed by our own write counts as free at once). */
  allMigrations(): VirtualMachineInstanceMigration[] {
    return this.deps.caches.vmims.list().map((m) => {
      const key = migrationKey(m);
      return this.migrations.has(key) ? (this.migrations.freshest(key, m) ?? m) : m;
    });
  }

  vmiOf(vmim: VirtualMachineInstanceMigration): VirtualMachineInstance | undefined {
    const namespace = vmim.metadata.namespace ?? '';
    return this.vmis.freshest(`${namespace}/${vmim.spec.vmiName}`, this.deps.caches.vmis.get(vmim.spec.vmiName, namespace));
  }

  // ---- writes ----

  /** Writes a migration's new status: its VMI first when the VMI must show it. */
  async commit(vmim: VirtualMachineInstanceMigration, next: MigrationStatus): Promise<void> {
    if (this.mustMirror(vmim, next)) await this.mirror(vmim, next);
    await this.writeMigration(vmim, next);
  }

  /**
   * The VMI must show this status from the hand-off on — and also whenever it already names this
   * migration (a hand-off whose VMI write landed and whose VMIM write did not: the VMI is then
   * kept true to the end, not left showing a migration in progress).
   */
  mustMirror(vmim: VirtualMachineInstanceMigration, next: MigrationStatus): boolean {
    if (showsOnVmi(next)) return true;
    const uid = vmim.metadata.uid;
    return uid !== undefined && this.vmiOf(vmim)?.status?.migrationState?.migrationUid === uid;
  }

  /** Applies phase changes (pure, phases.ts) and commits them, with the events they mean. */
  async transition(vmim: VirtualMachineInstanceMigration, changes: PhaseChange[], extra?: Partial<MigrationStatus>): Promise<MigrationStatus> {
    const nowIso = this.nowIso();
    let status: MigrationStatus = vmim.status ?? {};
    for (const change of changes) {
      const result = applyPhase(status, change, nowIso);
      if (!result.ok) throw new Error(`${migrationKey(vmim)}: ${result.error}`);
      status = result.status;
    }
    status = { ...status, ...extra };
    await this.commit(vmim, status);
    const last = changes[changes.length - 1];
    if (last?.phase === 'Failed') this.finished(vmim, status, 'Warning', 'MigrationFailed', `${last.reason}: ${last.message}`);
    else if (last?.phase === 'Succeeded') this.finished(vmim, status, 'Normal', 'MigrationSucceeded', `VMI ${vmim.spec.vmiName} now runs on ${status.migrationState?.targetNode}`);
    else if (last?.phase === 'Scheduled' || last?.phase === 'Running') {
      this.event(vmim, 'Normal', last.phase, last.phase === 'Scheduled' ? `target node ${last.targetNode}` : 'data is moving');
    }
    return status;
  }

  fail(vmim: VirtualMachineInstanceMigration, reason: FailureReason, message: string): Promise<MigrationStatus> {
    return this.transition(vmim, [{ phase: 'Failed', reason, message }]);
  }

  /** A final status reached outside transition() (cancel): committed, with its event. */
  async commitFinal(vmim: VirtualMachineInstanceMigration, next: MigrationStatus, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    await this.commit(vmim, next);
    this.finished(vmim, next, type, reason, message);
  }

  async setFinalizers(vmim: VirtualMachineInstanceMigration, finalizers: string[]): Promise<void> {
    this.guard();
    await this.deps.client.setFinalizers(VMIM_PLURAL, vmim.metadata, finalizers);
  }

  async delete(vmim: VirtualMachineInstanceMigration): Promise<void> {
    this.guard();
    await this.deps.client.delete(VMIM_PLURAL, vmim.metadata);
  }

  event(vmim: VirtualMachineInstanceMigration, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const target = { kind: 'VirtualMachineInstanceMigration', apiVersion: 'kubevirt.io/v1', metadata: vmim.metadata };
    this.deps.client.event(target, type, reason, message).catch((error: unknown) => {
      this.deps.log.warn({ err: String(error), migration: migrationKey(vmim) }, 'could not record event');
    });
  }

  private guard(): void {
    if (!this.deps.isLeader()) throw new NotLeader();
  }

  private async writeMigration(vmim: VirtualMachineInstanceMigration, status: MigrationStatus): Promise<void> {
    this.guard();
    const written = (await this.deps.client.patchStatus(VMIM_PLURAL, vmim.metadata, status as Record<string, unknown>)) as unknown as VirtualMachineInstanceMigration;
    // Go on from what was written without waiting for the watch to bring it back.
    const key = migrationKey(vmim);
    this.migrations.record(key, written);
    this.deps.queue.add(key);
  }

  private finished(vmim: VirtualMachineInstanceMigration, status: MigrationStatus, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.deps.queue.add(SCHEDULER_KEY);
    this.event(vmim, type, reason, message);
    this.deps.observe?.finished(status.phase === 'Succeeded' ? 'Succeeded' : 'Failed', status.phase === 'Succeeded' ? undefined : failureReasonOf(status));
    const vmi = this.vmiOf(vmim);
    if (!vmi || !this.mustMirror(vmim, status)) return;
    const target = { kind: 'VirtualMachineInstance', apiVersion: 'kubevirt.io/v1', metadata: vmi.metadata };
    const succeeded = status.phase === 'Succeeded';
    const text = succeeded
      ? `migrated from ${status.migrationState?.sourceNode} to ${status.migrationState?.targetNode} by ${vmim.metadata.name}`
      : `migration ${vmim.metadata.name} failed: ${status.migrationState?.failureReason ?? 'unknown'}`;
    this.deps.client.event(target, succeeded ? 'Normal' : 'Warning', succeeded ? 'Migrated' : 'MigrationFailed', text).catch(() => {});
  }

  /** Mirrors the migration onto its VMI (guarded against an older migration overwriting a newer one). */
  async mirror(vmim: VirtualMachineInstanceMigration, status: MigrationStatus): Promise<void> {
    const vmi = this.vmiOf(vmim);
    if (!vmi) return;
    const result = mirrorToVmi(vmi.status, status);
    if (!result.ok) {
      this.deps.log.warn({ migration: migrationKey(vmim), uid: status.migrationState?.migrationUid, phase: status.phase, reason: result.error }, 'not mirrored onto the VMI');
      return;
    }
    if (!result.changed) return;
    this.guard();
    // The VMI shows this migration only: keys of the one it showed before are removed, not merged.
    const patch: Record<string, unknown> = { migrationState: mergePatchBetween(vmi.status?.migrationState, result.status.migrationState) };
    if (result.status.nodeName !== vmi.status?.nodeName) patch.nodeName = result.status.nodeName;
    const written = (await this.deps.client.patchStatus(VMI_PLURAL, vmi.metadata, patch)) as unknown as VirtualMachineInstance;
    this.vmis.record(`${vmim.metadata.namespace ?? ''}/${vmim.spec.vmiName}`, written);
  }
}

function failureReasonOf(status: MigrationStatus): string | undefined {
  const text = status.migrationState?.failureReason;
  const typed = text?.split(':', 1)[0];
  return typed && (Object.values(FailureReason) as string[]).includes(typed) ? typed : undefined;
}
