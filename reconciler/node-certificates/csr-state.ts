// Where a CertificateSigningRequest of our signer stands, from its status alone (pure).
export interface CsrStatusView {
  spec?: { expirationSeconds?: number };
  status?: { certificate?: string; conditions?: Array<{ type?: string; status?: string }> };
}

/** decide: approve or deny; sign: approved, no certificate yet; none: finished (denied, failed or issued). */
export function csrStep(csr: CsrStatusView): 'decide' | 'sign' | 'none' {
  const conditions = (csr.status?.conditions ?? []).filter((c) => c.status !== 'False');
  const has = (type: string) => conditions.some((c) => c.type === type);
  if (has('Denied') || has('Failed')) return 'none';
  if (!has('Approved')) return 'decide';
  return csr.status?.certificate ? 'none' : 'sign';
}

/** The requested lifetime (spec.expirationSeconds), never beyond the signer's maximum. */
export function lifetimeSeconds(csr: CsrStatusView, maxSeconds: number): number {
  const requested = csr.spec?.expirationSeconds;
  return requested !== undefined && requested > 0 ? Math.min(requested, maxSeconds) : maxSeconds;
}
