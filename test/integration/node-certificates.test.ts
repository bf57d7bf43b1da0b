// Nodes' migration certificates through the Kubernetes CSR API, on the real API server: each agent
// (a ServiceAccount token bound to a Pod on its node, as a kubelet mounts it) requests from signer
// live-migration.io/node-migration; the reconciler's signer — here under a ServiceAccount with exactly
// the chart's signer RBAC — approves only the node's own names and signs with its CA; the agent
// writes the files libvirt and QEMU read, and renews before expiry.
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AuthorizationV1Api, CertificatesV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1CertificateSigningRequest } from '@kubernetes/client-node';
import { pino } from 'pino';
import { MigrationCertificates } from '../../agent/migration-certificates/migration-certificates.js';
import { ALL_TLS_NAMES, checkMigrationTls } from '../../agent/libvirt/migration-tls.js';
import { NODE_MIGRATION_SIGNER, agentServerName } from '../../agent/node-identity.js';
import { buildCsr } from '../../common/pkcs10.js';
import { agentNodeKubeconfigs, createAgentScope, deleteAgentScope, type AgentScope } from '../../hack/system/agent-scope.js';
import { createNodeSignerCa, createNodeSignerIdentity, deleteNodeSignerIdentity } from '../../hack/system/node-signer.js';
import { nodeInformer } from '../../kube/informers.js';
import { ControllerRunner } from '../../reconciler/controller-runner.js';
import { NodeCertificateSigner } from '../../reconciler/node-certificates/node-certificate-signer.js';
import { WorkQueue } from '../../reconciler/queue/work-queue.js';
import { createTestNamespace, kubectl, readControlPlaneState } from '../setup/environment.js';
import { eventually } from '../setup/system.js';

/** The signer's longest lifetime here: short, so a renewal (at 2/3) happens within the test. */
const LIFETIME_SECONDS = 15;
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const log = pino({ level: 'warn' });

let ns = '';
let work = '';
let admin: KubeConfig;
let scope: AgentScope;
let signerCluster = '';
let caPem = '';
const nodes = { a: '', b: '' };
const addresses = { a: ['10.96.7.1', 'fd00:96::1'], b: ['10.96.7.2'] };
const stops: Array<() => Promise<void> | void> = [];
const created: string[] = [];

function agentConfig(node: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromFile(join(work, `agent-${node}.kubeconfig`));
  return config;
}

function readDir(dir: string): Record<string, string | undefined> {
  return Object.fromEntries(ALL_TLS_NAMES.map((name) => {
    try {
      return [name, readFileSync(join(dir, name), 'utf8')];
    } catch {
      return [name, undefined];
    }
  }));
}

function startAgentCertificates(node: string): { certs: MigrationCertificates; dir: string } {
  const dir = join(work, `tls-${node}`);
  const certs = new MigrationCertificates({ kubeConfig: agentConfig(node), nodeName: node, dir, log, retryMs: 2_000 });
  certs.start();
  stops.push(() => certs.stop());
  return { certs, dir };
}

const certificates = () => admin.makeApiClient(CertificatesV1Api);
const condition = (csr: V1CertificateSigningRequest, type: string) => csr.status?.conditions?.find((c) => c.type === type && c.status === 'True');

beforeAll(async () => {
  const control = readControlPlaneState();
  admin = new KubeConfig();
  admin.loadFromFile(control.kubeconfig);
  ns = createTestNamespace('node-certs');
  work = mkdtempSync(join(tmpdir(), 'node-certs-'));
  nodes.a = `${ns}-a`;
  nodes.b = `${ns}-b`;
  const core = admin.makeApiClient(CoreV1Api);
  for (const [key, name] of Object.entries(nodes) as Array<['a' | 'b', string]>) {
    await core.createNode({ body: { metadata: { name } } });
    const list = addresses[key].map((address, i) => ({ type: i === 0 ? 'InternalIP' : 'ExternalIP', address }));
    await core.patchNodeStatus({ name, body: { status: { addresses: [...list, { type: 'Hostname', address: name }] } } }, mergePatch);
  }
  scope = await createAgentScope(admin, ns);
  await agentNodeKubeconfigs(admin, ns, [nodes.a, nodes.b], work);

  // The signer, as the reconciler runs it, with no more rights than the chart gives it.
  const ca = createNodeSignerCa(work);
  caPem = readFileSync(ca.cert, 'utf8');
  const identity = await createNodeSignerIdentity(admin, ns, work);
  signerCluster = identity.clusterName;
  const signerConfig = new KubeConfig();
  signerConfig.loadFromFile(identity.kubeconfig);
  const queue = new WorkQueue();
  const nodeCache = nodeInformer({ kubeConfig: signerConfig });
  const signer = new NodeCertificateSigner({
    kubeConfig: signerConfig,
    agentUsername: scope.username,
    caCertFile: ca.cert,
    caKeyFile: ca.key,
    maxLifetimeSeconds: LIFETIME_SECONDS,
    nodes: nodeCache,
    queue,
    isLeader: () => true,
    log,
  });
  const runner = new ControllerRunner('node-certificates', queue, signer.reconcile, { workers: 1, logger: log });
  await nodeCache.start();
  await signer.csrs.start();
  runner.start();
  stops.push(async () => {
    await runner.stop();
    await signer.csrs.stop();
    await nodeCache.stop();
  });
}, 120_000);

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  const api = certificates();
  for (const name of created) await api.deleteCertificateSigningRequest({ name }).catch(() => undefined);
  if (admin) {
    const core = admin.makeApiClient(CoreV1Api);
    for (const name of Object.values(nodes)) if (name) await core.deleteNode({ name }).catch(() => undefined);
    if (scope) await deleteAgentScope(admin, scope);
    if (signerCluster) await deleteNodeSignerIdentity(admin, signerCluster);
    kubectl(['delete', 'namespace', ns, '--wait=false']);
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('node migration certificates', () => {
  let agentA: { certs: MigrationCertificates; dir: string };

  it("an agent of node A gets a certificate for A's addresses, signed by the CA, in the files libvirt and QEMU read", async () => {
    agentA = startAgentCertificates(nodes.a);
    await agentA.certs.ready;
    created.push(...agentA.certs.requested);
    const contents = readDir(agentA.dir);
    // What the agent's libvirt reload checks before it tells libvirtd: complete, consistent, naming A's address.
    expect(checkMigrationTls(contents, addresses.a[0] ?? '', Date.now())).toEqual([]);
    expect(contents['ca-cert.pem']).toBe(new X509Certificate(caPem).toString());
    const cert = new X509Certificate(contents['server-cert.pem'] ?? '');
    expect(cert.subject).toBe(`CN=${agentServerName(nodes.a)}`);
    expect(cert.subjectAltName).toBe(`DNS:${agentServerName(nodes.a)}, IP Address:10.96.7.1, IP Address:FD00:96:0:0:0:0:0:1`);
    expect(cert.verify(new X509Certificate(caPem).publicKey)).toBe(true);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);

    const csr = await certificates().readCertificateSigningRequest({ name: agentA.certs.requested[0] ?? '' });
    expect(csr.spec.signerName).toBe(NODE_MIGRATION_SIGNER);
    expect(csr.spec.username).toBe(scope.username);
    expect(condition(csr, 'Approved')).toMatchObject({ reason: 'AgentNodeVerified', message: expect.stringContaining(`the agent of node ${nodes.a} asks for its own names`) });
  });

  it("a request of A's agent for B's address is denied, with the reason", async () => {
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const request = buildCsr(keys, { commonName: agentServerName(nodes.a) }, { dnsNames: [], ipAddresses: ['10.96.7.1', ...addresses.b] });
    const api = agentConfig(nodes.a).makeApiClient(CertificatesV1Api);
    const asked = await api.createCertificateSigningRequest({
      body: { metadata: { generateName: 'forged-' }, spec: { signerName: NODE_MIGRATION_SIGNER, request: Buffer.from(request).toString('base64'), usages: ['server auth', 'client auth'] } },
    });
    const name = asked.metadata?.name ?? '';
    created.push(name);
    const denied = await eventually('the forged request decided', async () => {
      const csr = await api.readCertificateSigningRequest({ name });
      return condition(csr, 'Denied') ?? (condition(csr, 'Approved') ? { reason: 'Approved!', message: '' } : undefined);
    });
    expect(denied).toMatchObject({ reason: 'NotThisNodesIdentity', message: `10.96.7.2 is not an address of Node ${nodes.a} (InternalIP/ExternalIP: 10.96.7.1, fd00:96::1)` });
    expect((await api.readCertificateSigningRequest({ name })).status?.certificate).toBeUndefined();
  });

  it('only the signer may approve and sign, and only for this signer (RBAC, asked of the API server)', async () => {
    const review = admin.makeApiClient(AuthorizationV1Api);
    const allowed = async (user: string, verb: string, resource: string, name?: string, subresource?: string) =>
      (await review.createSubjectAccessReview({
        body: { spec: { user, groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'], resourceAttributes: { group: 'certificates.k8s.io', resource, verb, ...(name ? { name } : {}), ...(subresource ? { subresource } : {}) } } },
      })).status?.allowed ?? false;
    const agent = scope.username;
    const signer = `system:serviceaccount:${ns}:live-migration-node-signer`;
    expect(await allowed(agent, 'create', 'certificatesigningrequests')).toBe(true);
    expect(await allowed(agent, 'update', 'certificatesigningrequests', undefined, 'approval')).toBe(false);
    expect(await allowed(agent, 'approve', 'signers', NODE_MIGRATION_SIGNER)).toBe(false);
    expect(await allowed(signer, 'approve', 'signers', NODE_MIGRATION_SIGNER)).toBe(true);
    expect(await allowed(signer, 'sign', 'signers', NODE_MIGRATION_SIGNER)).toBe(true);
    expect(await allowed(signer, 'approve', 'signers', 'kubernetes.io/kube-apiserver-client')).toBe(false);
    expect(await allowed(signer, 'sign', 'signers', 'kubernetes.io/kubelet-serving')).toBe(false);
    expect(await allowed(signer, 'create', 'certificatesigningrequests')).toBe(false);
    expect(kubectl(['auth', 'can-i', 'get', 'secrets', '-n', ns, `--as=${signer}`]).stdout.trim()).toBe('no');
  });

  it('renews before expiry: a new key and certificate replace the files while the old one is still valid', async () => {
    const first = new X509Certificate(readDir(agentA.dir)['server-cert.pem'] ?? '');
    const firstKey = readDir(agentA.dir)['server-key.pem'];
    const renewed = await eventually(
      'a renewed certificate in the dir',
      async () => {
        const text = readDir(agentA.dir)['server-cert.pem'] ?? '';
        return text && new X509Certificate(text).serialNumber !== first.serialNumber ? new X509Certificate(text) : undefined;
      },
      LIFETIME_SECONDS * 1000 * 2,
    );
    created.push(...agentA.certs.requested);
    expect(agentA.certs.requested.length).toBeGreaterThanOrEqual(2);
    // Signed (notBefore is the signing time less the signer's 60 s backdate) before the first expired.
    expect(Date.parse(renewed.validFrom) + 60_000).toBeLessThan(Date.parse(first.validTo));
    const contents = readDir(agentA.dir);
    expect(contents['server-key.pem']).not.toBe(firstKey);
    expect(checkMigrationTls(contents, addresses.a[0] ?? '', Date.now())).toEqual([]);
    expect(contents['server-cert.pem']).toBe(contents['client-cert.pem']);
  }, 60_000);
});
