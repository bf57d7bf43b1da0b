// Certificates for the components of a local system: one CA; the agents' serving certificate;
// the reconciler's client certificate for the agents (mutual TLS); the webhook's serving certificate.
import { mkdirSync } from 'node:fs';
import { createCertificateAuthority, issueCertificate } from '../control-plane/pki.js';

export const RECONCILER_CALLER = 'live-migration-reconciler';

export interface ComponentPki {
  caCert: string;
  agentCert: string;
  agentKey: string;
  reconcilerCert: string;
  reconcilerKey: string;
  webhookCert: string;
  webhookKey: string;
}

export function createComponentPki(dir: string): ComponentPki {
  mkdirSync(dir, { recursive: true });
  const ca = createCertificateAuthority(dir, 'components-ca', 'live-migration-components-ca');
  const loopback = { dns: ['localhost'], ips: ['127.0.0.1'] };
  const [agentCert, agentKey] = issueCertificate(dir, 'agent', ca, { commonName: 'live-migration-agent', altNames: loopback, usage: 'server' });
  const [reconcilerCert, reconcilerKey] = issueCertificate(dir, 'reconciler', ca, { commonName: RECONCILER_CALLER, usage: 'client' });
  const [webhookCert, webhookKey] = issueCertificate(dir, 'webhook', ca, { commonName: 'live-migration-webhook', altNames: loopback, usage: 'server' });
  return { caCert: ca.cert, agentCert, agentKey, reconcilerCert, reconcilerKey, webhookCert, webhookKey };
}
