// Limit accounting and admission: which waiting migrations may start now, and on which target.
//
// Why derived, not counted: the slots in use are computed from the migrations as the API server
// holds them (phase, source, target), never from a counter in process memory. A restarted or
// newly elected reconciler sees the same numbers, and a lowered limit applies on the next pass.
// The caller must pass, in `inFlight`, the migrations this process has admitted whose write the
// cache has not shown yet, or it would count them as free.
//
// Choices where the issue is silent:
// - A slot is held from Scheduled (target chosen) until the migration is final: Scheduled,
//   PreparingTarget, TargetReady, Running — a migration being aborted is still Running and keeps
//   its slot until the agent confirms. Pending and Scheduling migrations are the queue.
// - Order: priority as KubeVirt's queue ranks it (system-critical, user-triggered,
//   system-maintenance, then none — a user's own VMIM sets none), then creation time, then
//   namespace/name. Admission is work-conserving: a migration held back by a
//   per-node limit (its source's outbound, or every eligible target's inbound) keeps its place and
//   later ones may pass it; when the cluster limit is reached nobody passes. A held migration is
//   not starved: the per-node slot it needs is handed out in the same order when it frees.
// - Limits already exceeded (a limit was lowered) admit nothing until usage is below them.
import type { MigrationPriority, VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { SLOT_HOLDING_PHASES } from '../phases.js';
import type { LoadView, NodeLoad, TargetChoice } from '../scheduling/target-choice.js';

export interface Limits {
  parallelMigrationsPerCluster: number;
  parallelOutboundMigrationsPerNode: number;
  parallelInboundMigrationsPerNode: number;
}

/** A migration holding a slot. */
export interface InFlight {
  key: string;
  sourceNode?: string;
  targetNode?: string;
}

/** A migration waiting for a slot. */
export interface Waiting {
  key: string;
  sourceNode: string;
  priority?: MigrationPriority;
  creationTimestamp?: string;
  /** "<namespace>/<vmiName>": at most one migration of a VMI is in flight. */
  vmi?: string;
}

export type WaitReason = 'ClusterLimit' | 'OutboundLimit' | 'InboundLimit' | 'NoEligibleNode' | 'VmiBusy';

export interface Admission<W extends Waiting> {
  admitted: Array<{ migration: W; targetNode: string }>;
  held: Array<{ migration: W; reason: WaitReason; message: string }>;
}

export type ChooseTarget<W extends Waiting> = (migration: W, view: LoadView) => TargetChoice;

export function migrationKey(vmim: VirtualMachineInstanceMigration): string {
  return `${vmim.metadata.namespace ?? ''}/${vmim.metadata.name ?? ''}`;
}

export function holdsSlot(vmim: VirtualMachineInstanceMigration): boolean {
  const phase = vmim.status?.phase;
  return phase !== undefined && SLOT_HOLDING_PHASES.includes(phase);
}

/** The slot holders among all migrations. */
export function inFlightFrom(vmims: readonly VirtualMachineInstanceMigration[]): InFlight[] {
  return vmims.filter(holdsSlot).map((vmim) => {
    const state = vmim.status?.migrationState;
    return { key: migrationKey(vmim), sourceNode: state?.sourceNode, targetNode: state?.targetNode };
  });
}

/** Migrations queued for a slot: in Scheduling, with a known source, not being deleted. */
export function waitingFrom(vmims: readonly VirtualMachineInstanceMigration[]): Array<Waiting & { vmim: VirtualMachineInstanceMigration }> {
  return vmims.flatMap((vmim) => {
    const sourceNode = vmim.status?.migrationState?.sourceNode;
    if (vmim.status?.phase !== 'Scheduling' || sourceNode === undefined || vmim.metadata.deletionTimestamp) return [];
    const vmi = `${vmim.metadata.namespace ?? ''}/${vmim.spec.vmiName}`;
    return [{ key: migrationKey(vmim), sourceNode, priority: vmim.spec.priority, creationTimestamp: vmim.metadata.creationTimestamp, vmi, vmim }];
  });
}

/**
 * One in-flight migration per VMI, whatever the webhook let through (a stale cache, a bypass): of
 * the waiting migrations, those of a VMI with one in flight, and all but the first in queue order
 * of each VMI, are held as VmiBusy — before admission, so they take no slot from others.
 */
export function oneInFlightPerVmi<W extends Waiting>(waiting: readonly W[], busyVmis: ReadonlyMap<string, string>): { eligible: W[]; held: Admission<W>['held'] } {
  const eligible: W[] = [];
  const held: Admission<W>['held'] = [];
  const first = new Map<string, string>(busyVmis);
  for (const migration of [...waiting].sort(queueOrder)) {
    const ahead = migration.vmi === undefined ? undefined : first.get(migration.vmi);
    if (ahead !== undefined) {
      held.push({ migration, reason: 'VmiBusy', message: `migration ${ahead} of VMI ${migration.vmi} goes first` });
      continue;
    }
    if (migration.vmi !== undefined) first.set(migration.vmi, migration.key);
    eligible.push(migration);
  }
  return { eligible, held };
}

const PRIORITY_RANK: Record<MigrationPriority, number> = {
  'system-critical': 0,
  'user-triggered': 1,
  'system-maintenance': 2,
};
/** No spec.priority: after every priority (KubeVirt's queue value 0). */
const UNSET_RANK = 3;

function createdAt(w: Waiting): number {
  const ms = w.creationTimestamp === undefined ? NaN : Date.parse(w.creationTimestamp);
  return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
}

export function queueOrder(a: Waiting, b: Waiting): number {
  const rankOf = (w: Waiting) => (w.priority === undefined ? UNSET_RANK : PRIORITY_RANK[w.priority]);
  const rank = rankOf(a) - rankOf(b);
  if (rank !== 0) return rank;
  const ta = createdAt(a);
  const tb = createdAt(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

class Usage {
  total = 0;
  private readonly nodes = new Map<string, NodeLoad>();

  load(node: string): NodeLoad {
    return this.nodes.get(node) ?? { inbound: 0, outbound: 0 };
  }

  add(source: string | undefined, target: string | undefined): void {
    this.total += 1;
    if (source !== undefined) this.nodes.set(source, { ...this.load(source), outbound: this.load(source).outbound + 1 });
    if (target !== undefined) this.nodes.set(target, { ...this.load(target), inbound: this.load(target).inbound + 1 });
  }
}

export function admit<W extends Waiting>(
  waiting: readonly W[],
  inFlight: readonly InFlight[],
  limits: Limits,
  chooseTarget: ChooseTarget<W>,
): Admission<W> {
  const usage = new Usage();
  for (const m of inFlight) usage.add(m.sourceNode, m.targetNode);
  const view: LoadView = { load: (node) => usage.load(node), inboundLimit: limits.parallelInboundMigrationsPerNode };
  const result: Admission<W> = { admitted: [], held: [] };

  for (const migration of [...waiting].sort(queueOrder)) {
    if (usage.total >= limits.parallelMigrationsPerCluster) {
      result.held.push({
        migration,
        reason: 'ClusterLimit',
        message: `${usage.total} migrations running in the cluster (limit ${limits.parallelMigrationsPerCluster})`,
      });
      continue;
    }
    const outbound = usage.load(migration.sourceNode).outbound;
    if (outbound >= limits.parallelOutboundMigrationsPerNode) {
      result.held.push({
        migration,
        reason: 'OutboundLimit',
        message: `${outbound} migrations running out of ${migration.sourceNode} (limit ${limits.parallelOutboundMigrationsPerNode})`,
      });
      continue;
    }
    const choice = chooseTarget(migration, view);
    if (!choice.ok) {
      result.held.push({ migration, reason: choice.unschedulable ? 'NoEligibleNode' : 'InboundLimit', message: choice.reason });
      continue;
    }
    const inbound = usage.load(choice.node).inbound;
    if (inbound >= limits.parallelInboundMigrationsPerNode) {
      // A chooser that ignored the view must still not break the inbound limit.
      result.held.push({
        migration,
        reason: 'InboundLimit',
        message: `${inbound} migrations running into ${choice.node} (limit ${limits.parallelInboundMigrationsPerNode})`,
      });
      continue;
    }
    usage.add(migration.sourceNode, choice.node);
    result.admitted.push({ migration, targetNode: choice.node });
  }
  return result;
}
