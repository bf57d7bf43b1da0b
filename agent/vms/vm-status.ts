// The VMI status the agent writes for its VM: the phase with its stamp, the Ready condition, and
// KubeVirt's status.reason on a failure. Pure.
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { phaseStamps, stampPhases, withCondition } from '../../api/vmi-status.js';

export function vmPhasePatch(vmi: VirtualMachineInstance, phase: 'Running' | 'Succeeded' | 'Failed', reason: string | undefined, now: string): Record<string, unknown> {
  const conditions = vmi.status?.conditions ?? [];
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
