// Keeps this node's migration TLS material issued through the Kubernetes CSR API (--migration-tls-from-csr):
// on start and before expiry it makes a new key, asks signer live-migration.io/node-migration for a
// certificate naming the Node's own addresses and agent name (server and client auth: libvirtd both
// dials and is dialled), waits for the reconciler's signer to approve and sign, and writes the files
// into the migration TLS dir. The key never leaves the node. A certificate already on disk that
// names the right things and is short of 2/3 of its life is kept across a restart.
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertificatesV1Api, CoreV1Api, type KubeConfig, type V1CertificateSigningRequest } from '@kubernetes/client-node';
import { DefensiveInformer, type ObjectList, type ObjectWithMeta } from '../../kube/informer.js';
import { buildCsr } from '../../common/pkcs10.js';
import { NODE_MIGRATION_SIGNER } from '../node-identity.js';
import { renewAtMs, renewalReason, splitIssued, wantedNames, type WantedNames } from './certificate-plan.js';
import { writeMigrationTlsDir } from './tls-dir-writer.js';

export interface MigrationCertificatesLog {
  info(object: Record<string, unknown>, message: string): void;
  warn(object: Record<string, unknown>, message: string): void;
}

export interface MigrationCertificatesOptions {
  kubeConfig: KubeConfig;
  nodeName: string;
  dir: string;
  log: MigrationCertificatesLog;
  /** Give up on one request after this long (then retry after retryMs). Default 5 minutes. */
  requestTimeoutMs?: number;
  /** After a failed or denied request, and between checks of the Node's addresses. Default 60 s. */
  retryMs?: number;
}

type Outcome = { certificate: string } | { refused: string };

function outcomeOf(csr: V1CertificateSigningRequest): Outcome | undefined {
  const final = csr.status?.conditions?.find((c) => (c.type === 'Denied' || c.type === 'Failed') && c.status !== 'False');
  if (final) return { refused: `${final.type}: ${final.reason ?? ''} ${final.message ?? ''}`.trim() };
  if (csr.status?.certificate) return { certificate: Buffer.from(csr.status.certificate, 'base64').toString('utf8') };
  return undefined;
}

export class MigrationCertificates {
  private readonly certificates: CertificatesV1Api;
  private readonly core: CoreV1Api;
  private cert: X509Certificate | undefined;
  private renewAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private abortWait: (() => void) | undefined;
  /** Issued (or found on disk) for the first time; rejects never (failures are logged and retried). */
  readonly ready: Promise<void>;
  private markReady!: () => void;
  /** Every CSR this agent created, newest last (for tests and logs). */
  readonly requested: string[] = [];

  constructor(private readonly options: MigrationCertificatesOptions) {
    this.certificates = options.kubeConfig.makeApiClient(CertificatesV1Api);
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }

  start(): void {
    this.cert = this.fromDisk();
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abortWait?.();
  }

  private fromDisk(): X509Certificate | undefined {
    try {
      const cert = new X509Certificate(readFileSync(join(this.options.dir, 'server-cert.pem')));
      readFileSync(join(this.options.dir, 'server-key.pem'));
      this.renewAt = renewAtMs(cert, Date.parse(cert.validFrom));
      return cert;
    } catch {
      return undefined;
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.check(), ms);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    const { nodeName, log } = this.options;
    const retryMs = this.options.retryMs ?? 60_000;
    try {
      const wanted = wantedNames(nodeName, await this.core.readNode({ name: nodeName }));
      if (wanted.ipAddresses.length === 0) throw new Error(`Node ${nodeName} has no InternalIP or ExternalIP address to certify`);
      const why = renewalReason(this.cert, this.renewAt, wanted, Date.now());
      if (why) {
        log.info({ node: nodeName, why }, 'requesting a migration certificate');
        await this.issue(wanted);
      }
      this.markReady();
      this.schedule(Math.max(0, Math.min(this.renewAt - Date.now(), retryMs)));
    } catch (error) {
      if (this.stopped) return;
      log.warn({ node: nodeName, err: (error as Error).message }, 'migration certificate not renewed; retrying');
      this.schedule(retryMs);
    }
  }

  private async issue(wanted: WantedNames): Promise<void> {
    const { nodeName, dir, log } = this.options;
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const request = buildCsr(keys, { commonName: wanted.commonName }, wanted);
    const created = await this.certificates.createCertificateSigningRequest({
      body: {
        metadata: { generateName: `node-migration-${nodeName}-`.slice(0, 240) },
        spec: { signerName: NODE_MIGRATION_SIGNER, request: Buffer.from(request).toString('base64'), usages: ['digital signature', 'server auth', 'client auth'] },
      },
    });
    const name = created.metadata?.name ?? '';
    this.requested.push(name);
    const outcome = await this.waitFor(name);
    if ('refused' in outcome) throw new Error(`CertificateSigningRequest ${name} ${outcome.refused}`);
    const issued = splitIssued(outcome.certificate);
    writeMigrationTlsDir(dir, { ca: issued.ca, cert: issued.cert, key: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() });
    this.cert = new X509Certificate(issued.cert);
    this.renewAt = renewAtMs(this.cert, Date.now());
    log.info({ node: nodeName, csr: name, dir, validTo: this.cert.validTo, renewAt: new Date(this.renewAt).toISOString() }, 'migration certificate written');
  }

  /** The CSR's outcome, from an informer on that one CSR (list, then watch; relisted on any error). */
  private async waitFor(name: string): Promise<Outcome> {
    const fieldSelector = `metadata.name=${name}`;
    let settle: (outcome: Outcome | undefined) => void = () => undefined;
    const settled = new Promise<Outcome | undefined>((resolve) => (settle = resolve));
    const informer = new DefensiveInformer<V1CertificateSigningRequest & ObjectWithMeta>({
      name: `certificatesigningrequest ${name}`,
      kubeConfig: this.options.kubeConfig,
      path: '/apis/certificates.k8s.io/v1/certificatesigningrequests',
      fieldSelector,
      list: () => this.certificates.listCertificateSigningRequest({ fieldSelector }) as Promise<ObjectList<V1CertificateSigningRequest & ObjectWithMeta>>,
      logger: this.options.log,
      onEvent: (_event, csr) => {
        const outcome = outcomeOf(csr);
        if (outcome) settle(outcome);
      },
    });
    const timeout = setTimeout(() => settle(undefined), this.options.requestTimeoutMs ?? 300_000);
    this.abortWait = () => settle(undefined);
    try {
      void informer.start();
      const seen = await settled;
      if (seen) return seen;
      throw new Error(`CertificateSigningRequest ${name} was neither signed nor denied in time (is the reconciler's node signer running?)`);
    } finally {
      clearTimeout(timeout);
      this.abortWait = undefined;
      await informer.stop();
    }
  }
}
