// What evacuating one node means now (pure): for each VMI on it or marked for it, whether it is
// marked (status.evacuationNodeName), whether it is reported as unable to leave (condition
// EvacuationBlocked), and whether an evacuation migration is created, waits out a backoff, or is
// not needed; and, once the drain is called off, which evacuation migrations that have not started
// are cancelled. The controller (controllers/evacuation-controller.ts) writes what this returns.
//
// KubeVirt's rules (pkg/virt-controller/watch/drain/evacuation, pod-eviction-admitter), and ours
// where there is no pod to evict:
// - evictionStrategy from the VMI, else the cluster default (kubevirt-config evictionStrategy).
// - LiveMigrate, LiveMigrateIfPossible: marked and migrated when LiveMigratable; when not, KubeVirt
//   stalls the drain (LiveMigrate) or lets the pod die (IfPossible). With no pod to kill, both stay
//   and are reported (reason NotLiveMigratable); a VMI not yet evaluated waits for its condition.
// - External: marked, no migration (another controller acts on the mark).
// - None: KubeVirt lets the eviction stop the VM; here nothing stops it, so it stays, reported
//   (reason EvictionStrategyNone).
// - None created for a VMI with an unfinished migration (any, not only evacuations), or one not Running.
// - Called off (taint removed, or uncordoned when cordon counts): marks for this node cleared,
//   reports removed, evacuation migrations not yet holding a slot cancelled; running ones finish.
import { EVACUATION_ANNOTATION, EVACUATION_BLOCKED_CONDITION, EVICTION_REQUESTED_CONDITION } from '../../api/names.js';
import type { Condition } from '../../api/schemas/migration-state.js';
import { FINAL_VMI_PHASES, type EvictionStrategy, type VirtualMachineInstance } from '../../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { evacuationBackoff, pastEvacuation } from './backoff.js';

export interface PlanInput {
  node: string;
  draining: boolean;
  clusterDefault: EvictionStrategy;
  /** VMIs whose status.nodeName or status.evacuationNodeName is `node`. */
  vmis: readonly VirtualMachineInstance[];
  /** Migrations by "<namespace>/<vmiName>". */
  migrationsOf: (vmiKey: string) => readonly VirtualMachineInstanceMigration[];
  /** Evacuation migrations annotated with `node`. */
  evacuationsFrom: readonly VirtualMachineInstanceMigration[];
  /** A VMI for which this process created an evacuation migration the cache does not show yet. */
  createdUnseen: (vmiKey: string) => boolean;
  nowMs: number;
  backoffBaseMs: number;
}

export interface Blocked {
  reason: 'EvictionStrategyNone' | 'NotLiveMigratable';
  message: string;
}

export interface VmiDecision {
  vmi: VirtualMachineInstance;
  /** The status.evacuationNodeName it should have (undefined: none). */
  mark: string | undefined;
  blocked: Blocked | undefined;
  action: { kind: 'none' } | { kind: 'create' } | { kind: 'backoff'; failures: number; notBeforeMs: number };
}

export interface EvacuationPlan {
  vmis: VmiDecision[];
  cancel: VirtualMachineInstanceMigration[];
  /** Look again then (a backoff ends). */
  requeueAfterMs?: number;
}

const NOT_STARTED = new Set(['', 'Pending', 'Scheduling']);

export const vmiKeyOf = (vmi: VirtualMachineInstance): string => `${vmi.metadata.namespace ?? ''}/${vmi.metadata.name ?? ''}`;

export function strategyOf(vmi: VirtualMachineInstance, clusterDefault: EvictionStrategy): EvictionStrategy {
  return vmi.spec?.evictionStrategy ?? clusterDefault;
}

function isFinalMigration(vmim: VirtualMachineInstanceMigration): boolean {
  return vmim.status?.phase === 'Succeeded' || vmim.status?.phase === 'Failed';
}

function decide(vmi: VirtualMachineInstance, input: PlanInput): VmiDecision {
  const none = { kind: 'none' } as const;
  const keep: VmiDecision = { vmi, mark: vmi.status?.evacuationNodeName, blocked: currentBlocked(vmi), action: none };
  if (vmi.metadata.deletionTimestamp || FINAL_VMI_PHASES.includes(vmi.status?.phase ?? 'Pending')) return keep;
  const onNode = vmi.status?.nodeName === input.node;
  // Not (or no longer) to be evacuated from this node: its mark for this node goes, as does a report.
  const markElsewhere = vmi.status?.evacuationNodeName === input.node ? undefined : vmi.status?.evacuationNodeName;
  if (!input.draining || !onNode) return { vmi, mark: markElsewhere, blocked: onNode ? undefined : keep.blocked, action: none };

  const strategy = strategyOf(vmi, input.clusterDefault);
  const name = vmiKeyOf(vmi);
  if (strategy === 'None') {
    return { vmi, mark: markElsewhere, blocked: { reason: 'EvictionStrategyNone', message: `VMI ${name} has evictionStrategy None: it stays on ${input.node}, which is being drained` }, action: none };
  }
  if (strategy === 'External') return { vmi, mark: input.node, blocked: undefined, action: none };
  const migratable = vmi.status?.conditions?.find((c) => c.type === 'LiveMigratable');
  if (migratable?.status === 'False') {
    const why = [migratable.reason, migratable.message].filter(Boolean).join(': ');
    return { vmi, mark: markElsewhere, blocked: { reason: 'NotLiveMigratable', message: `VMI ${name} is not live-migratable (${why}): it stays on ${input.node}, which is being drained` }, action: none };
  }
  if (migratable?.status !== 'True') return { vmi, mark: input.node, blocked: undefined, action: none };

  const mark = input.node;
  const migrations = input.migrationsOf(name);
  if (migrations.some((m) => !isFinalMigration(m)) || input.createdUnseen(name) || vmi.status?.phase !== 'Running') {
    return { vmi, mark, blocked: undefined, action: none };
  }
  const past = migrations.filter((m) => m.metadata.annotations?.[EVACUATION_ANNOTATION] !== undefined).flatMap((m) => pastEvacuation(m) ?? []);
  const backoff = evacuationBackoff(past, input.backoffBaseMs);
  if (backoff.notBeforeMs !== undefined && backoff.notBeforeMs > input.nowMs) {
    return { vmi, mark, blocked: undefined, action: { kind: 'backoff', failures: backoff.failures, notBeforeMs: backoff.notBeforeMs } };
  }
  return { vmi, mark, blocked: undefined, action: { kind: 'create' } };
}

function currentBlocked(vmi: VirtualMachineInstance): Blocked | undefined {
  const c = vmi.status?.conditions?.find((x) => x.type === EVACUATION_BLOCKED_CONDITION && x.status === 'True');
  if (!c || (c.reason !== 'EvictionStrategyNone' && c.reason !== 'NotLiveMigratable')) return undefined;
  return { reason: c.reason, message: c.message ?? '' };
}

export function planEvacuation(input: PlanInput): EvacuationPlan {
  const vmis = input.vmis.map((vmi) => decide(vmi, input));
  const cancel = input.draining
    ? []
    : input.evacuationsFrom.filter((m) => !m.metadata.deletionTimestamp && NOT_STARTED.has(m.status?.phase ?? ''));
  const waits = vmis.flatMap((d) => (d.action.kind === 'backoff' ? [d.action.notBeforeMs - input.nowMs] : []));
  return { vmis, cancel, ...(waits.length > 0 ? { requeueAfterMs: Math.max(50, Math.min(...waits)) } : {}) };
}

/**
 * The status merge patch that gives the VMI its decided mark and report (conditions
 * EvictionRequested and EvacuationBlocked kept in step); undefined when it already has them.
 */
export function vmiStatusPatch(decision: VmiDecision, nowIso: string): Record<string, unknown> | undefined {
  const { vmi, mark, blocked } = decision;
  const conditions = vmi.status?.conditions ?? [];
  const current = currentBlocked(vmi);
  const requested = conditions.some((c) => c.type === EVICTION_REQUESTED_CONDITION);
  const sameMark = (vmi.status?.evacuationNodeName ?? undefined) === mark;
  const sameBlock = current?.reason === blocked?.reason && current?.message === blocked?.message && (blocked !== undefined || !conditions.some((c) => c.type === EVACUATION_BLOCKED_CONDITION));
  if (sameMark && sameBlock && requested === (mark !== undefined)) return undefined;
  const kept: Condition[] = conditions.filter((c) => c.type !== EVICTION_REQUESTED_CONDITION && c.type !== EVACUATION_BLOCKED_CONDITION);
  const previous = (type: string) => conditions.find((c) => c.type === type);
  if (mark !== undefined) {
    kept.push(previous(EVICTION_REQUESTED_CONDITION) ?? { type: EVICTION_REQUESTED_CONDITION, status: 'True', reason: 'EvictionRequested', message: `evacuating from ${mark}`, lastTransitionTime: nowIso });
  }
  if (blocked) {
    const before = previous(EVACUATION_BLOCKED_CONDITION);
    kept.push({ type: EVACUATION_BLOCKED_CONDITION, status: 'True', reason: blocked.reason, message: blocked.message, lastTransitionTime: before?.status === 'True' ? before.lastTransitionTime : nowIso });
  }
  return { evacuationNodeName: mark ?? null, conditions: kept };
}
