// One identity per node: the name an agent's serving certificate must carry to be that node's agent,
// and the only place the reconciler may dial it — an address the Node object itself lists, with the
// port the agent announced. Why both: a certificate for node A served from B's address, or B's
// endpoint annotation pointed at an attacker's host, must never get a call (issue 11).
import { isIP } from 'node:net';
import { portOf } from '../common/network-checks.js';

/** Suffix of the per-node names; a DNS name no one can register, so no public CA issues it. */
export const AGENT_IDENTITY_DOMAIN = 'agent.live-migration.io';

/** The DNS name (SAN) in node `nodeName`'s agent certificate, checked by the reconciler on each connection. */
export function agentServerName(nodeName: string): string {
  return `${nodeName}.${AGENT_IDENTITY_DOMAIN}`;
}

/** What this reads of a Node: its addresses (status.addresses). */
export interface NodeAddresses {
  status?: { addresses?: Array<{ type?: string; address?: string }> };
}

export type DialTarget = { ok: true; url: string } | { ok: false; reason: string };

/** The node's IP addresses (entries of type Hostname and the like are names, not addresses). */
export function nodeIps(node: NodeAddresses | undefined): string[] {
  return (node?.status?.addresses ?? []).map((a) => a.address ?? '').filter((a) => isIP(a) !== 0);
}

/**
 * Where to call node `nodeName`'s agent, from its endpoint annotation: https, a host that is one of
 * the Node's own IP addresses, a numeric port, nothing else (no path, no credentials).
 */
export function agentDialTarget(nodeName: string, node: NodeAddresses | undefined, endpoint: string): DialTarget {
  const refuse = (why: string): DialTarget => ({ ok: false, reason: `agent endpoint ${JSON.stringify(endpoint.slice(0, 120))} of node ${nodeName} ${why}` });
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return refuse('is not a URL');
  }
  if (url.protocol !== 'https:') return refuse('is not https');
  if (url.username || url.password || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) return refuse('has more than scheme, host and port');
  const port = portOf(url.port);
  if (port === undefined) return refuse('has no port number');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) === 0) return refuse('names a host, not an IP address');
  const ips = nodeIps(node);
  if (!ips.includes(host)) return refuse(`is not on an address of the Node (status.addresses: ${ips.join(', ') || 'none'})`);
  return { ok: true, url: `https://${url.hostname}:${port}` };
}

/**
 * The Kubernetes CSR signer of nodes' migration certificates (libvirt/QEMU TLS between nodes): the
 * agent requests, the reconciler approves only a request of node N's agent for N's own names, and signs.
 */
export const NODE_MIGRATION_SIGNER = 'live-migration.io/node-migration';

/** The addresses a node's migration certificate may name: the Node's InternalIP and ExternalIP entries. */
export function migrationCertificateIps(node: NodeAddresses | undefined): string[] {
  return (node?.status?.addresses ?? [])
    .filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP')
    .map((a) => a.address ?? '')
    .filter((a) => isIP(a) !== 0);
}
