// Stale cache, closed door: a webhook whose caches cannot sync refuses migrations with a retryable
// message instead of admitting one it cannot check for an in-flight twin, and admits again once
// synced. The webhook process (cmd/webhook.ts) reaches the API server only through a loopback port
// where nothing listens until the test opens a forwarder there; the API server calls the webhook.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../hack/control-plane/ports.js';
import { webhookConfigurations } from '../../hack/system/webhook-configurations.js';
import { createServingCertificate, httpsRequest, type ServingCertificate } from '../setup/https-client.js';
import { createTestNamespace, kubectl, readControlPlaneState } from '../setup/environment.js';

const CONFIG = 'kubevirt-config';
const NOT_SYNCED = "the webhook's caches are not synced with the API server";
let ns: string;
let cert: ServingCertificate;
let webhook: ChildProcess;
let webhookPort: number;
let apiPort: number;
let forwarder: Server | undefined;
const sockets = new Set<Socket>();
const configurations: Array<[string, string]> = [];

/** Opens the webhook's road to the API server: a TCP forwarder on the port its kubeconfig names. */
async function openForwarder(): Promise<void> {
  const target = new URL(readControlPlaneState().server);
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined).on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(apiPort, '127.0.0.1', resolve));
  forwarder = server;
}

function readyz() {
  return httpsRequest(`https://127.0.0.1:${webhookPort}/readyz`, { ca: cert.caPem, timeoutMs: 1000 });
}

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    if (webhook.exitCode !== null) throw new Error(`webhook exited with ${webhook.exitCode}; see ${join(cert.dir, 'webhook.log')}`);
    await sleep(100);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

function vmim(name: string, vmiName: string): string {
  return JSON.stringify({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name }, spec: { vmiName } });
}

function createVmi(name: string): void {
  // Made Running by this test (it plays virt-handler): run by someone else, so not checked against the subset.
  const manifest = { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name, annotations: { 'live-migration.io/placement': 'external' } }, spec: { domain: { devices: {} } } };
  expect(kubectl(['create', '-n', ns, '-f', '-'], JSON.stringify(manifest)).stderr).toBe('');
  const status = { phase: 'Running', nodeName: 'node01', conditions: [{ type: 'LiveMigratable', status: 'True' }] };
  expect(kubectl(['patch', 'vmi', name, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]).stderr).toBe('');
}

beforeAll(async () => {
  ns = createTestNamespace('webhook-trust');
  const suffix = ns.split('-').pop() as string;
  const config = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: CONFIG, namespace: ns }, data: { 'feature-gates': 'LiveMigration' } };
  expect(kubectl(['create', '-f', '-'], JSON.stringify(config)).stderr).toBe('');
  createVmi('vm-1');

  cert = createServingCertificate('webhook-trust');
  const control = readControlPlaneState();
  apiPort = await freePort();
  // The admin kubeconfig, pointed at a port nobody listens on yet (the API server's certificate names 127.0.0.1).
  const kubeconfig = JSON.parse(readFileSync(control.kubeconfig, 'utf8')) as { clusters: Array<{ cluster: { server: string } }> };
  for (const { cluster } of kubeconfig.clusters) cluster.server = `https://127.0.0.1:${apiPort}`;
  const kubeconfigFile = join(cert.dir, 'kubeconfig');
  writeFileSync(kubeconfigFile, JSON.stringify(kubeconfig), { mode: 0o600 });

  webhookPort = await freePort();
  const log = openSync(join(cert.dir, 'webhook.log'), 'a');
  webhook = spawn(
    process.execPath,
    ['--import', 'tsx', 'cmd/webhook.ts', `--port=${webhookPort}`, '--host=127.0.0.1', `--tls-cert-file=${cert.certFile}`, `--tls-key-file=${cert.keyFile}`, `--config-namespace=${ns}`, `--config-name=${CONFIG}`],
    { stdio: ['ignore', log, log], env: { ...process.env, KUBECONFIG: kubeconfigFile } },
  );
  await until('webhook listening', async () => (await readyz().catch(() => undefined))?.status);

  const objects = webhookConfigurations(
    { webhook: { suffix: `trust-${suffix}`, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } }, namespace: ns, configLocation: { namespace: ns, name: CONFIG } },
    webhookPort,
    Buffer.from(cert.caPem).toString('base64'),
    'system:serviceaccount:nowhere:nobody',
  );
  for (const object of objects) {
    expect(kubectl(['apply', '-f', '-'], JSON.stringify(object)).stderr).toBe('');
    configurations.push([object.kind ?? '', object.metadata?.name ?? '']);
  }
});

afterAll(async () => {
  for (const [kind, name] of configurations) kubectl(['delete', kind, name, '--ignore-not-found']);
  if (webhook && webhook.exitCode === null) {
    const exited = new Promise((resolve) => webhook.once('exit', resolve));
    webhook.kill('SIGTERM');
    await exited;
  }
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => (forwarder ? forwarder.close(() => resolve()) : resolve()));
  if (cert) rmSync(cert.dir, { recursive: true, force: true });
});

describe('a webhook whose caches cannot sync', () => {
  it('says not ready, naming the caches', async () => {
    const ready = await readyz();
    expect(ready.status).toBe(503);
    expect(ready.body).toContain('caches not synced (not synced yet: virtualmachineinstances, virtualmachineinstancemigrations, configmap');
  });

  it('refuses a migration through the API server with a retryable message, and stores nothing', async () => {
    // The API server picks the configurations up asynchronously: probe with dry runs until ours answers.
    await until('the webhook configurations in effect', () =>
      kubectl(['create', '--dry-run=server', '-n', ns, '-f', '-'], vmim('probe', 'vm-1')).stderr.includes(NOT_SYNCED) ? true : undefined,
    );
    const result = kubectl(['create', '-n', ns, '-f', '-'], vmim('mig-1', 'vm-1'));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('Error from server (ServiceUnavailable)');
    expect(result.stderr).toContain(
      `denied the request: Cannot migrate VMI ${ns}/vm-1: ${NOT_SYNCED} (not synced yet: virtualmachineinstances, virtualmachineinstancemigrations, ` +
        `configmap ${ns}/${CONFIG}, migrationpolicies, namespaces), so it cannot tell whether a migration of this VMI is already in flight. Retry shortly.`,
    );
    expect(kubectl(['get', 'vmim', '-n', ns, '-o', 'name']).stdout).toBe('');
  });

  it('admits once its caches have synced, and then sees the migration in flight', async () => {
    await openForwarder();
    await until('readyz 200', async () => ((await readyz()).status === 200 ? true : undefined));
    const admitted = kubectl(['create', '-n', ns, '-f', '-'], vmim('mig-1', 'vm-1'));
    expect(admitted.stderr).toBe('');
    const stored = JSON.parse(kubectl(['get', 'vmim', 'mig-1', '-n', ns, '-o', 'json']).stdout) as { metadata: { finalizers?: string[] } };
    expect(stored.metadata.finalizers).toEqual(['kubevirt.io/migrationJobFinalize']);
    // The new migration reaches the cache through the watch; the second one is then refused as in flight.
    const second = await until('the second migration refused as in flight', () => {
      const result = kubectl(['create', '--dry-run=server', '-n', ns, '-f', '-'], vmim('mig-2', 'vm-1'));
      return result.stderr.includes('in-flight migration detected') ? result : undefined;
    }, 10_000);
    expect(second.stderr).toMatch(/Error from server \(BadRequest\): .*denied the request: in-flight migration detected\. Active migration job \([0-9a-f-]+\) is currently already in progress for VMI vm-1\. It is migration .*\/mig-1 /);
  });
});
