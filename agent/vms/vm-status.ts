// The VMI status the agent writes for its VM: the phase with its stamp, the Ready condition, and
// KubeVirt's status.reason on a failure. Pure.
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { phaseStamps, stampPhases, withCondition, withoutCondition } from '../../api/vmi-status.js';

/** KubeVirt's condition for a VMI its node cannot set up (a PVC missing …): False with the reason. */
export const SYNCHRONIZED = 'Synchronized';

export function vmPhasePatch(vmi: VirtualMachineInstance, phase: 'Running' | 'Succeeded' | 'Failed', reason: string | undefined, now: string): Record<string, unknown> {
  const all = vmi.status?.conditions ?? [];
  // Running: whatever kept it from starting is over.
  const conditions = phase === 'Running' ? (withoutCondition(all, SYNCHRONIZED) ?? all) : all;
  const ready =
    phase === 'Running'
      ? { type: 'Ready', status: 'True' as const }
      : { type: 'Ready', status: 'False' as const, reason: 'GuestNotRunning', message: reason ?? `the guest is ${phase === 'Succeeded' ? 'shut off' : 'not running'}` };
  return {
    phase,
    phaseTransitionTimestamps: stampPhases(phaseStamps(vmi), [phase], now),
    conditions: withCondition(conditions, ready, now) ?? conditions,
    ...(phase === 'Failed' && reason ? { reason } : {}),
  };
}

/** The VM cannot start here yet (e.g. its PVC is not bound): Synchronized False; undefined when already so. */
export function vmNotSynchronizedPatch(vmi: VirtualMachineInstance, reason: string, message: string, now: string): Record<string, unknown> | undefined {
  const conditions = withCondition(vmi.status?.conditions ?? [], { type: SYNCHRONIZED, status: 'False', reason, message }, now);
  return conditions ? { conditions } : undefined;
}
