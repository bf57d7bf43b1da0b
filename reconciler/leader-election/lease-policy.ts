// Who may hold the reconciler's coordination.k8s.io Lease, decided from the Lease alone.
// Like client-go's leaderelection: a holder keeps the lease by renewing it before
// leaseDurationSeconds pass; anyone may take it once it has expired or was released.

export interface LeaseView {
  holderIdentity?: string | null;
  /** RFC 3339 with microseconds, as the API server stores MicroTime. */
  renewTime?: string | Date | null;
  leaseDurationSeconds?: number | null;
}

export type LeaseDecision =
  | { action: 'renew' }
  | { action: 'acquire'; previousHolder: string | undefined }
  | { action: 'wait'; holder: string; expiresInMs: number };

export function decideLease(lease: LeaseView | undefined, identity: string, nowMs: number): LeaseDecision {
  const holder = lease?.holderIdentity ?? '';
  if (holder === identity) return { action: 'renew' };
  if (!lease || holder === '') return { action: 'acquire', previousHolder: undefined };
  const renewedAt = lease.renewTime ? new Date(lease.renewTime).getTime() : 0;
  const expiresAt = renewedAt + (lease.leaseDurationSeconds ?? 0) * 1000;
  if (Number.isNaN(renewedAt) || expiresAt <= nowMs) return { action: 'acquire', previousHolder: holder };
  return { action: 'wait', holder, expiresInMs: expiresAt - nowMs };
}
