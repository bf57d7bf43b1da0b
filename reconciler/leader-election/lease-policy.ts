// Who may hold the reconciler's coordination.k8s.io Lease, and when a leader must stop: pure rules,
// as in client-go's leaderelection. Clocks of different replicas are never compared: a Lease's
// renewTime is only another replica's wall clock. Expiry is judged by when THIS replica last saw the
// record change, on its own monotonic clock; a leader stops acting renewDeadline after the start of
// its last successful renewal. With renewDeadline < leaseDuration, the old leader has stopped
// before anyone else may take over (see "Why two never lead" in the README beside this file).

export interface LeaseRecord {
  holderIdentity?: string | null;
  /** The writer's wall clock; only compared for change, never with our clock. */
  renewTime?: string | Date | null;
  leaseDurationSeconds?: number | null;
  resourceVersion?: string | null;
}

/** What this replica last saw of the Lease, and when (its own monotonic clock, ms). */
export interface Observation {
  fingerprint: string;
  holder: string;
  leaseDurationMs: number;
  observedAtMs: number;
}

export type LeaseDecision =
  | { action: 'renew' }
  | { action: 'acquire'; previousHolder: string | undefined }
  | { action: 'wait'; holder: string; expiresInMs: number };

export interface Timings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  callTimeoutMs: number;
}

function fingerprintOf(record: LeaseRecord): string {
  const renew = record.renewTime ? new Date(record.renewTime).toISOString() : '';
  return JSON.stringify([record.resourceVersion ?? '', record.holderIdentity ?? '', renew, record.leaseDurationSeconds ?? null]);
}

/**
 * The observation after reading `record` at `nowMs`. An unchanged record keeps the time it was
 * first seen, so a holder that stops renewing expires; any change restarts the count.
 * A missing or invalid duration counts as ours (`fallbackDurationMs`), never as zero.
 */
export function observe(previous: Observation | undefined, record: LeaseRecord | undefined, nowMs: number, fallbackDurationMs: number): Observation | undefined {
  if (!record) return undefined;
  const fingerprint = fingerprintOf(record);
  if (previous && previous.fingerprint === fingerprint) return previous;
  const seconds = record.leaseDurationSeconds;
  const leaseDurationMs = typeof seconds === 'number' && seconds > 0 ? seconds * 1000 : fallbackDurationMs;
  return { fingerprint, holder: record.holderIdentity ?? '', leaseDurationMs, observedAtMs: nowMs };
}

/** What to do with the Lease as last observed; `undefined` means there is no Lease yet. */
export function decideLease(observation: Observation | undefined, identity: string, nowMs: number): LeaseDecision {
  if (!observation || observation.holder === '') return { action: 'acquire', previousHolder: undefined };
  if (observation.holder === identity) return { action: 'renew' };
  const expiresAt = observation.observedAtMs + observation.leaseDurationMs;
  if (nowMs >= expiresAt) return { action: 'acquire', previousHolder: observation.holder };
  return { action: 'wait', holder: observation.holder, expiresInMs: expiresAt - nowMs };
}

/**
 * When a leader must stop acting: renewDeadline after the START of its last successful renewal
 * (the write may have landed any time after it started, so the start is the safe reference).
 */
export function leadershipEndsAt(renewalStartedAtMs: number, renewDeadlineMs: number): number {
  return renewalStartedAtMs + renewDeadlineMs;
}

/** Whether a renewal that started at `renewalStartedAtMs` and succeeded now still confers leadership. */
export function renewalCounts(renewalStartedAtMs: number, nowMs: number, renewDeadlineMs: number): boolean {
  return nowMs < leadershipEndsAt(renewalStartedAtMs, renewDeadlineMs);
}

/** Problems with a set of timings, as client-go checks them (empty when valid). */
export function timingProblems(t: Timings): string[] {
  const problems: string[] = [];
  if (!(t.renewDeadlineMs < t.leaseDurationMs)) problems.push('renewDeadline must be shorter than leaseDuration');
  if (!(t.retryPeriodMs * 1.2 < t.renewDeadlineMs)) problems.push('renewDeadline must exceed 1.2 × retryPeriod');
  if (!(t.callTimeoutMs > 0 && t.callTimeoutMs < t.renewDeadlineMs)) problems.push('callTimeout must be positive and shorter than renewDeadline');
  if (!(t.retryPeriodMs > 0)) problems.push('retryPeriod must be positive');
  return problems;
}

/** client-go bounds a renewal by the renew deadline; half of it leaves room for a retry. */
export function defaultCallTimeoutMs(renewDeadlineMs: number): number {
  return Math.max(1, Math.floor(renewDeadlineMs / 2));
}
