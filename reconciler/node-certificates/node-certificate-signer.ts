// The signer of nodes' migration certificates (signerName live-migration.io/node-migration): watches
// the CertificateSigningRequests of that signer, approves or denies each through the /approval
// subresource (csr-policy.ts decides), and signs approved ones with the CA read from files (a
// mounted Secret: a rotated CA is used from the next signature on), writing the certificate followed
// by the CA certificate into status.certificate (the /status subresource): the agent installs the CA
// as its peers' trust anchor. It signs only what the policy approves at signing time too, so an
// approval by someone else cannot get a certificate for names the node does not own.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CertificatesV1Api, type KubeConfig, type V1CertificateSigningRequest, type V1CertificateSigningRequestCondition } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { NODE_MIGRATION_SIGNER, agentServerName, type NodeAddresses } from '../../agent/node-identity.js';
import { csrInformer } from '../../kube/informers.js';
import type { ObjectWithMeta } from '../../kube/informer.js';
import type { KeyQueue } from '../controller-runner.js';
import { decideNodeMigrationCsr, type CsrRequest } from './csr-policy.js';
import { csrStep, lifetimeSeconds } from './csr-state.js';
import { BACKDATE_MS, issueCertificate, type SigningCa } from './issue-certificate.js';

export interface NodeSignerOptions {
  kubeConfig: KubeConfig;
  /** The agents' ServiceAccount user (system:serviceaccount:<ns>:<name>), the only requester approved. */
  agentUsername: string;
  /** PEM files of the signing CA: its certificate and key. */
  caCertFile: string;
  caKeyFile: string;
  /** Longest lifetime issued (a request's spec.expirationSeconds may ask for less). */
  maxLifetimeSeconds: number;
  nodes: { get(name: string): NodeAddresses | undefined };
  queue: KeyQueue;
  isLeader: () => boolean;
  log: Logger;
}

type Csr = V1CertificateSigningRequest & ObjectWithMeta;

function loadCa(certFile: string, keyFile: string): SigningCa {
  const cert = new X509Certificate(readFileSync(certFile));
  const key = createPrivateKey(readFileSync(keyFile));
  if (!cert.ca) throw new Error(`${certFile}: not a CA certificate`);
  if (!cert.checkPrivateKey(key)) throw new Error(`${keyFile}: not the key of ${certFile}`);
  return { cert, key };
}

function requestOf(csr: Csr): CsrRequest {
  return {
    ...(csr.spec?.username !== undefined ? { username: csr.spec.username } : {}),
    ...(csr.spec?.extra ? { extra: csr.spec.extra } : {}),
    ...(csr.spec?.usages ? { usages: csr.spec.usages } : {}),
    request: Buffer.from(csr.spec?.request ?? '', 'base64').toString('utf8'),
  };
}

export class NodeCertificateSigner {
  readonly csrs;
  private readonly api: CertificatesV1Api;

  constructor(private readonly options: NodeSignerOptions) {
    this.api = options.kubeConfig.makeApiClient(CertificatesV1Api);
    this.csrs = csrInformer({ kubeConfig: options.kubeConfig, logger: options.log }, NODE_MIGRATION_SIGNER, {
      onEvent: (event, csr) => {
        if (event !== 'delete' && csr.metadata?.name) options.queue.add(csr.metadata.name);
      },
    });
  }

  enqueueAll(): void {
    for (const csr of this.csrs.list()) if (csr.metadata?.name) this.options.queue.add(csr.metadata.name);
  }

  reconcile = async (name: string): Promise<void> => {
    if (!this.options.isLeader()) return;
    const cached = this.csrs.get(name);
    if (!cached || cached.spec?.signerName !== NODE_MIGRATION_SIGNER) return;
    const step = csrStep(cached);
    if (step === 'none') return;
    // Written from a fresh read: the write carries its resourceVersion, so a concurrent change conflicts.
    const csr = await this.api.readCertificateSigningRequest({ name });
    if (csrStep(csr) !== step) return;
    const decision = decideNodeMigrationCsr(requestOf(csr), this.options.agentUsername, (node) => this.options.nodes.get(node));
    if (step === 'decide') {
      const condition: V1CertificateSigningRequestCondition = decision.approve
        ? { type: 'Approved', status: 'True', reason: 'AgentNodeVerified', message: decision.reason }
        : { type: 'Denied', status: 'True', reason: 'NotThisNodesIdentity', message: decision.reason };
      await this.api.replaceCertificateSigningRequestApproval({ name, body: { ...csr, status: { ...csr.status, conditions: [...(csr.status?.conditions ?? []), condition] } } });
      this.options.log.info({ csr: name, approved: decision.approve, reason: decision.reason }, decision.approve ? 'node migration certificate request approved' : 'node migration certificate request denied');
      return;
    }
    if (!decision.approve) {
      const failed = { type: 'Failed', status: 'True', reason: 'SignerRefused', message: `approved, but the signer refuses it: ${decision.reason}` };
      await this.api.replaceCertificateSigningRequestStatus({ name, body: { ...csr, status: { ...csr.status, conditions: [...(csr.status?.conditions ?? []), failed] } } });
      this.options.log.warn({ csr: name, reason: decision.reason }, 'approved node migration certificate request not signed');
      return;
    }
    const ca = loadCa(this.options.caCertFile, this.options.caKeyFile);
    const now = Date.now();
    const certificate = issueCertificate(
      {
        commonName: agentServerName(decision.node),
        names: { dnsNames: decision.parsed.dnsNames, ipAddresses: decision.parsed.ipAddresses },
        spki: decision.parsed.spki,
        publicKey: decision.parsed.publicKey,
        notBefore: new Date(now - BACKDATE_MS),
        notAfter: new Date(now + lifetimeSeconds(csr, this.options.maxLifetimeSeconds) * 1000),
      },
      ca,
    );
    const chain = certificate + ca.cert.toString();
    await this.api.replaceCertificateSigningRequestStatus({ name, body: { ...csr, status: { ...csr.status, certificate: Buffer.from(chain).toString('base64') } } });
    this.options.log.info({ csr: name, node: decision.node }, 'node migration certificate issued');
  };
}
