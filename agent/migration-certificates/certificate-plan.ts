// What this node's migration certificate must name and when it is renewed (pure). The names are the
// Node's own (InternalIP/ExternalIP, since peers dial qemu+tls://<node IP>, and the agent name); the
// signer approves nothing else. Renewed at 2/3 of its lifetime, or at once when the Node's addresses
// no longer match the certificate's.
import { X509Certificate } from 'node:crypto';
import { pem, pemBlocks } from '../../common/der.js';
import { canonicalIp } from '../../common/pkcs10.js';
import { agentServerName, migrationCertificateIps, type NodeAddresses } from '../node-identity.js';

export const RENEW_AT_FRACTION = 2 / 3;

export interface WantedNames {
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
}

export function wantedNames(nodeName: string, node: NodeAddresses | undefined): WantedNames {
  const name = agentServerName(nodeName);
  return { commonName: name, dnsNames: [name], ipAddresses: [...new Set(migrationCertificateIps(node).map(canonicalIp))] };
}

/** The names a certificate carries, in the same form as wantedNames. */
export function certificateNames(cert: X509Certificate): { dnsNames: string[]; ipAddresses: string[] } {
  const entries = (cert.subjectAltName ?? '').split(', ').filter((e) => e !== '');
  return {
    dnsNames: entries.filter((e) => e.startsWith('DNS:')).map((e) => e.slice(4)),
    ipAddresses: entries.filter((e) => e.startsWith('IP Address:')).map((e) => canonicalIp(e.slice('IP Address:'.length))),
  };
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));

/** When to renew a certificate first seen (received or read from disk) at `sinceMs`. */
export function renewAtMs(cert: X509Certificate, sinceMs: number): number {
  const start = Math.max(Date.parse(cert.validFrom), Math.min(sinceMs, Date.parse(cert.validTo)));
  return start + (Date.parse(cert.validTo) - start) * RENEW_AT_FRACTION;
}

/** Why a new certificate is needed now, or undefined while the one in hand will do. */
export function renewalReason(cert: X509Certificate | undefined, renewAt: number, wanted: WantedNames, nowMs: number): string | undefined {
  if (!cert) return 'no certificate yet';
  if (wanted.ipAddresses.length === 0) return undefined; // nothing to ask for; the caller reports it
  const names = certificateNames(cert);
  if (!sameSet(names.ipAddresses, wanted.ipAddresses) || !sameSet(names.dnsNames, wanted.dnsNames)) {
    return `the Node's addresses (${wanted.ipAddresses.join(', ')}) differ from the certificate's (${names.ipAddresses.join(', ')})`;
  }
  if (nowMs >= renewAt) return `2/3 of its lifetime passed (valid to ${cert.validTo})`;
  return undefined;
}

/** status.certificate as our signer writes it: the node's certificate, then the CA that issued it. */
export function splitIssued(chain: string): { cert: string; ca: string } {
  const blocks = pemBlocks(chain, 'CERTIFICATE');
  const [leaf, ca] = [blocks[0], blocks[blocks.length - 1]];
  if (!leaf || !ca || blocks.length < 2) throw new Error(`status.certificate holds ${blocks.length} certificate(s); the signer writes the node's and its CA's`);
  const leafPem = pem('CERTIFICATE', leaf);
  const caPem = pem('CERTIFICATE', ca);
  const caCert = new X509Certificate(caPem);
  if (!new X509Certificate(leafPem).verify(caCert.publicKey)) throw new Error('status.certificate: the certificate is not signed by the CA after it');
  return { cert: leafPem, ca: caPem };
}
