// Whether a request to the node migration signer is approved: only an agent whose ServiceAccount
// token is bound to a Pod on node N (the API server writes N into the request's extra; no client can
// forge it), asking for a certificate that names only N's agent name and N's own addresses, for a
// sane key it proves it holds, with the usages a migration needs (server auth and client auth: each
// libvirtd both dials and is dialled). Anything else is denied with the reason.
import { agentServerName, migrationCertificateIps, type NodeAddresses } from '../../agent/node-identity.js';
import { canonicalIp, parseCsr, type ParsedCsr } from '../../common/pkcs10.js';

export const NODE_NAME_EXTRA = 'authentication.kubernetes.io/node-name';
const REQUIRED_USAGES = ['server auth', 'client auth'];
const ALLOWED_USAGES = new Set([...REQUIRED_USAGES, 'digital signature', 'key encipherment']);

/** What the policy reads of a CertificateSigningRequest (spec fields the API server fills in). */
export interface CsrRequest {
  username?: string;
  extra?: Record<string, string[] | undefined>;
  usages?: string[];
  /** The PKCS#10 request, PEM (spec.request decoded). */
  request: string;
}

export type CsrDecision =
  | { approve: true; node: string; parsed: ParsedCsr; reason: string }
  | { approve: false; reason: string };

/** EC P-256/P-384 or RSA 2048–8192 bits; else why not. */
export function keyProblem(parsed: ParsedCsr): string | undefined {
  const { asymmetricKeyType: type, asymmetricKeyDetails: details } = parsed.publicKey;
  if (type === 'ec') return ['prime256v1', 'secp384r1'].includes(details?.namedCurve ?? '') ? undefined : `EC curve ${details?.namedCurve ?? 'unknown'} (P-256 or P-384 only)`;
  if (type === 'rsa') {
    const bits = details?.modulusLength ?? 0;
    return bits >= 2048 && bits <= 8192 ? undefined : `RSA key of ${bits} bits (2048 to 8192 only)`;
  }
  return `${type ?? 'unknown'} key (EC P-256/P-384 or RSA only)`;
}

export function decideNodeMigrationCsr(csr: CsrRequest, agentUsername: string, nodeOf: (name: string) => NodeAddresses | undefined): CsrDecision {
  const deny = (reason: string): CsrDecision => ({ approve: false, reason });
  if (csr.username !== agentUsername) return deny(`requested by ${csr.username ?? 'nobody'}, not by the agents' ServiceAccount ${agentUsername}`);
  const bound = csr.extra?.[NODE_NAME_EXTRA] ?? [];
  const node = bound[0];
  if (bound.length !== 1 || !node) return deny(`the requester's token is not bound to a Pod on a node (no single ${NODE_NAME_EXTRA} in its user info)`);
  const usages = csr.usages ?? [];
  const missing = REQUIRED_USAGES.filter((u) => !usages.includes(u));
  const extra = usages.filter((u) => !ALLOWED_USAGES.has(u));
  if (missing.length > 0 || extra.length > 0) {
    return deny(`usages ${JSON.stringify(usages)}: need ${REQUIRED_USAGES.join(' and ')}${extra.length ? `, and not ${extra.join(', ')}` : ''}`);
  }
  let parsed: ParsedCsr;
  try {
    parsed = parseCsr(csr.request);
  } catch (error) {
    return deny(`spec.request is not a PKCS#10 request: ${(error as Error).message}`);
  }
  if (!parsed.signatureValid) return deny('spec.request is not signed by its own key');
  const key = keyProblem(parsed);
  if (key) return deny(`spec.request has an ${key}`);
  const name = agentServerName(node);
  if (parsed.subject.commonName !== name || parsed.subject.organizations.length > 0) {
    return deny(`the subject must be CN=${name} only, got CN=${parsed.subject.commonName ?? ''}${parsed.subject.organizations.map((o) => `, O=${o}`).join('')}`);
  }
  if (parsed.otherNames.length > 0) return deny(`subjectAltName may hold DNS and IP entries only, got ${parsed.otherNames.join(', ')}`);
  const foreignDns = parsed.dnsNames.filter((d) => d !== name);
  if (foreignDns.length > 0) return deny(`an agent on node ${node} may be named only ${name}, not ${foreignDns.join(', ')}`);
  const nodeObject = nodeOf(node);
  if (!nodeObject) return deny(`Node ${node} does not exist`);
  const own = migrationCertificateIps(nodeObject).map(canonicalIp);
  const foreignIps = parsed.ipAddresses.filter((ip) => !own.includes(ip));
  if (foreignIps.length > 0) {
    return deny(`${foreignIps.join(', ')} ${foreignIps.length > 1 ? 'are' : 'is'} not an address of Node ${node} (InternalIP/ExternalIP: ${own.join(', ') || 'none'})`);
  }
  if (parsed.ipAddresses.length === 0) return deny(`the request names no IP address of Node ${node} (peers dial qemu+tls://<node IP>)`);
  return { approve: true, node, parsed, reason: `the agent of node ${node} asks for its own names (${[name, ...parsed.ipAddresses].join(', ')})` };
}
