// Certificates for the components of a local system: one CA; one serving certificate per agent node
// (its name <node>.agent.live-migration.io, which the reconciler checks: one identity per node); the
// reconciler's client certificate for the agents (mutual TLS); the webhook's serving certificate.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { agentServerName } from '../../agent/node-identity.js';
import { createCertificateAuthority, issueCertificate } from '../control-plane/pki.js';

export const RECONCILER_CALLER = 'live-migration-reconciler';

export interface ComponentPki {
  dir: string;
  caCert: string;
  caKey: string;
  reconcilerCert: string;
  reconcilerKey: string;
  webhookCert: string;
  webhookKey: string;
}

export function createComponentPki(dir: string): ComponentPki {
  mkdirSync(dir, { recursive: true });
  // A new CA: agent certificates of an earlier start (a kept local dir) were signed by the old one.
  for (const file of readdirSync(dir)) if (file.startsWith('agent-')) rmSync(join(dir, file), { force: true });
  const ca = createCertificateAuthority(dir, 'components-ca', 'live-migration-components-ca');
  const loopback = { dns: ['localhost'], ips: ['127.0.0.1'] };
  const [reconcilerCert, reconcilerKey] = issueCertificate(dir, 'reconciler', ca, { commonName: RECONCILER_CALLER, usage: 'client' });
  const [webhookCert, webhookKey] = issueCertificate(dir, 'webhook', ca, { commonName: 'live-migration-webhook', altNames: loopback, usage: 'server' });
  return { dir, caCert: ca.cert, caKey: ca.key, reconcilerCert, reconcilerKey, webhookCert, webhookKey };
}

/** Where node `{node}`'s agent certificate and key are (the agent's --tls-cert/--tls-key templates). */
export function agentCertificatePaths(pki: ComponentPki): { cert: string; key: string } {
  return { cert: join(pki.dir, 'agent-{node}.crt'), key: join(pki.dir, 'agent-{node}.key') };
}

/** Issues `node`'s own agent certificate (once): only that node's name, so it proves that node and no other. */
export function issueAgentCertificate(pki: ComponentPki, node: string, certifiedName = agentServerName(node)): [string, string] {
  const cert = join(pki.dir, `agent-${node}.crt`);
  const key = join(pki.dir, `agent-${node}.key`);
  if (existsSync(cert) && existsSync(key)) return [cert, key];
  return issueCertificate(pki.dir, `agent-${node}`, { cert: pki.caCert, key: pki.caKey }, { commonName: certifiedName, altNames: { dns: [certifiedName] }, usage: 'server' });
}
