// Pure helpers for the VMI status both the reconciler (placement) and the agent (the VM's life)
// write: a phase with KubeVirt's phaseTransitionTimestamps (each phase stamped once, in order) and
// conditions whose lastTransitionTime moves only when their status flips.
import type { Condition } from './schemas/migration-state.js';
import type { VirtualMachineInstance, VmiPhase } from './schemas/vmi.js';

export interface PhaseStamp {
  phase: VmiPhase;
  phaseTransitionTimestamp: string;
}

/** The finalizer that keeps a VMI until its node confirmed the VM is gone. */
export const VM_FINALIZER = 'live-migration.io/vm-shutdown';

export function phaseStamps(vmi: VirtualMachineInstance): PhaseStamp[] {
  const raw = vmi.status?.phaseTransitionTimestamps;
  return Array.isArray(raw) ? (raw as PhaseStamp[]) : [];
}

/** The stamps after moving through `phases` (in order) at `now`; phases already stamped keep theirs. */
export function stampPhases(stamps: readonly PhaseStamp[], phases: readonly VmiPhase[], now: string): PhaseStamp[] {
  const out = [...stamps];
  for (const phase of phases) if (!out.some((s) => s.phase === phase)) out.push({ phase, phaseTransitionTimestamp: now });
  return out;
}

/** Conditions with `next` set (replacing one of its type); undefined when it is already so. */
export function withCondition(conditions: readonly Condition[], next: Condition, now: string): Condition[] | undefined {
  const current = conditions.find((c) => c.type === next.type);
  if (current && current.status === next.status && (current.reason ?? '') === (next.reason ?? '') && (current.message ?? '') === (next.message ?? '')) return undefined;
  const stamped: Condition = { ...next, lastProbeTime: null, lastTransitionTime: current?.status === next.status ? (current.lastTransitionTime ?? now) : now };
  return [...conditions.filter((c) => c.type !== next.type), stamped];
}

export function withoutCondition(conditions: readonly Condition[], type: string): Condition[] | undefined {
  return conditions.some((c) => c.type === type) ? conditions.filter((c) => c.type !== type) : undefined;
}

/**
 * `live-migration.io/placement: external` on a VMI: its node and phase are written by someone
 * else (KubeVirt's own virt-handler beside us, or a harness playing it), so placement leaves it
 * alone. Migrations still work; the agent of the node it says it runs on adopts it (simulation).
 */
export const PLACEMENT_ANNOTATION = 'live-migration.io/placement';
export const EXTERNAL_PLACEMENT = 'external';
