// How the reconciler finds agents, against the real API server: the endpoint annotation on the
// Node, a Lease renewed while the agent runs and deleted when it stops. First the registration on
// its own (including a Node that appears late), then the agent process as a harness runs it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinationV1Api, KubeConfig } from '@kubernetes/client-node';
import { HttpsAgentClient, type AgentClientTls } from '../../agent/client.js';
import { AgentRegistration, agentIsLive, agentLeaseName } from '../../agent/registration.js';
import { createCertificateAuthority, issueCertificate } from '../../hack/control-plane/pki.js';
import { createTestNamespace, kubectl, readControlPlaneState } from '../setup/environment.js';

// Nodes are cluster-scoped: names unique to this file and run.
const suffix = Math.random().toString(36).slice(2, 7);
const nodeNames = ['reg', 'proc-1', 'proc-2', 'witness'].map((n) => `agent-registration-${n}-${suffix}`);
const [lateNode, procNode1, procNode2, witnessNode] = nodeNames as [string, string, string, string];

let ns: string;
let kubeConfig: KubeConfig;
let coordination: CoordinationV1Api;
let dir: string;
let clientTls: AgentClientTls;
let child: ChildProcess | undefined;

function createNode(name: string): void {
  const result = kubectl(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name } }));
  expect(result.stderr).toBe('');
}

function annotationOf(node: string): string {
  return kubectl(['get', 'node', node, '-o', `jsonpath={.metadata.annotations.live-migration\\.io/agent-endpoint}`]).stdout;
}

function leaseExists(node: string): boolean {
  const result = kubectl(['get', 'lease', '-n', ns, agentLeaseName(node), '-o', 'name']);
  if (result.code === 0) return true;
  expect(result.stderr).toContain('NotFound');
  return false;
}

async function eventually<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(100);
  }
}

beforeAll(() => {
  ns = createTestNamespace('agent-registration');
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(readControlPlaneState().kubeconfig);
  coordination = kubeConfig.makeApiClient(CoordinationV1Api);
  dir = mkdtempSync(join(tmpdir(), 'agent-registration-'));
  const ca = createCertificateAuthority(dir, 'ca', 'live-migration-agent-ca');
  issueCertificate(dir, 'agent', ca, { commonName: 'live-migration-agent', altNames: { ips: ['127.0.0.1'] }, usage: 'server' });
  const [cert, key] = issueCertificate(dir, 'reconciler', ca, { commonName: 'live-migration-reconciler', usage: 'client' });
  clientTls = { ca: readFileSync(ca.cert), cert: readFileSync(cert), key: readFileSync(key) };
});

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  for (const node of nodeNames) kubectl(['delete', 'node', node, '--ignore-not-found', '--wait=false']);
  kubectl(['delete', 'namespace', ns, '--wait=false']);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('agent registration', () => {
  it('waits for its Node, annotates it (again if the Node is re-created), holds a fresh Lease, renews it, and deletes it on stop', async () => {
    const endpoint = 'https://127.0.0.1:45678';
    const registration = new AgentRegistration({ kubeConfig, nodeName: lateNode, namespace: ns, endpoint, renewMs: 300 });
    await registration.start();
    // No Node yet: nothing is claimed, and the failure is retried rather than fatal.
    expect(registration.healthy).toBe(false);
    expect(leaseExists(lateNode)).toBe(false);

    createNode(lateNode);
    await eventually('registered', () => registration.healthy);
    expect(annotationOf(lateNode)).toBe(endpoint);
    const lease = await coordination.readNamespacedLease({ name: agentLeaseName(lateNode), namespace: ns });
    expect(lease.spec?.holderIdentity).toBe(lateNode);
    expect(lease.spec?.leaseDurationSeconds).toBe(40);
    expect(agentIsLive(lease, Date.now())).toBe(true);
    expect(agentIsLive(lease, Date.now() + 41_000)).toBe(false);

    // The client hands renewTime back as the API's string despite its V1MicroTime type.
    const firstRenewal = renewedAt(lease.spec?.renewTime);
    const renewed = await eventually('renewed', async () => {
      const next = await coordination.readNamespacedLease({ name: agentLeaseName(lateNode), namespace: ns });
      const at = renewedAt(next.spec?.renewTime);
      return at > firstRenewal ? at : undefined;
    });
    expect(renewed).toBeGreaterThan(firstRenewal);

    // The Node object re-created (as a kubelet re-registering would): the annotation comes back.
    expect(kubectl(['delete', 'node', lateNode]).code).toBe(0);
    createNode(lateNode);
    expect(annotationOf(lateNode)).toBe('');
    await eventually('re-annotated', () => annotationOf(lateNode) === endpoint, 10_000);

    // A second registration on the same period is the clock: its renewals are ticks the stopped one would have had.
    createNode(witnessNode);
    const witness = new AgentRegistration({ kubeConfig, nodeName: witnessNode, namespace: ns, endpoint, renewMs: 300 });
    await witness.start();
    try {
      await eventually('witness registered', () => witness.healthy);
      await registration.stop();
      expect(leaseExists(lateNode)).toBe(false);
      // Stopped means stopped: two renewals later, no tick has brought the Lease back.
      let ticks = 0;
      let last = 0;
      await eventually('two witness renewals', async () => {
        const at = renewedAt((await coordination.readNamespacedLease({ name: agentLeaseName(witnessNode), namespace: ns })).spec?.renewTime);
        if (last !== 0 && at > last) ticks++;
        last = at;
        return ticks >= 2 ? true : undefined;
      });
      expect(leaseExists(lateNode)).toBe(false);
    } finally {
      await witness.stop();
    }
  });

  it('cmd/agent.ts hosting two simulated nodes: registered endpoints answer over mTLS; SIGTERM deletes the Leases and exits 0', async () => {
    createNode(procNode1);
    createNode(procNode2);
    const args = [
      'cmd/agent.ts', '--driver', 'simulation', '--nodes', `${procNode1},${procNode2}`,
      '--kubeconfig', readControlPlaneState().kubeconfig, '--namespace', ns,
      '--tls-cert', join(dir, 'agent.crt'), '--tls-key', join(dir, 'agent.key'), '--client-ca', join(dir, 'ca.crt'),
      '--health-address', '127.0.0.1', '--health-port', '0',
    ];
    const proc = spawn(join(process.cwd(), 'node_modules/.bin/tsx'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    const lines: Array<Record<string, unknown>> = [];
    let stderr = '';
    let buffer = '';
    proc.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const line of parts) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
    });
    proc.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));

    await eventually('agents registered', () => lines.some((l) => l.msg === 'agents registered; ready') || (proc.exitCode !== null && fail(stderr)), 30_000);
    const healthPort = lines.find((l) => l.msg === 'agent health listening')?.healthPort;
    const ready = await fetch(`http://127.0.0.1:${String(healthPort)}/readyz`);
    expect(ready.status).toBe(200);

    for (const node of [procNode1, procNode2]) {
      const endpoint = annotationOf(node);
      expect(endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(leaseExists(node)).toBe(true);
      // The reconciler's view: the endpoint from the annotation answers, as that node.
      const agent = new HttpsAgentClient({ nodeName: node, baseUrl: endpoint, tls: clientTls });
      await expect(agent.health()).resolves.toMatchObject({ nodeName: node, driver: 'simulation' });
      agent.close();
    }
    expect(annotationOf(procNode1)).not.toBe(annotationOf(procNode2));

    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(leaseExists(procNode1)).toBe(false);
    expect(leaseExists(procNode2)).toBe(false);
    expect(lines.some((l) => l.msg === 'stopped')).toBe(true);
  }, 60_000);
});

function renewedAt(time: unknown): number {
  return time instanceof Date ? time.getTime() : Date.parse(String(time));
}

function fail(stderr: string): never {
  throw new Error(`agent exited early: ${stderr}`);
}
