// Benchmark of the admission webhook (`npm run bench -- webhook`). A real API server holds a
// realistic cache's worth of objects (10,000 VMIs, 1,000 VMIMs, kubevirt-config); the webhook runs
// as its own process (cmd/webhook.ts) with its informers synced from it, and so does a no-op express
// HTTPS handler as the baseline. autocannon drives each over HTTPS on loopback, at 1,000 req/s and
// at saturation. API calls on the hot path are counted twice: from the API server's own
// apiserver_request_total (every verb but WATCH, for the three resources the webhook reads), taken
// before and after the load, and from the webhook's live_migration_webhook_api_calls_total.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request as httpsRequestRaw } from 'node:https';
import autocannon from 'autocannon';
import { REPO_ROOT } from '../api/generated-files.js';
import { startControlPlane, stopControlPlane, type ControlPlaneState } from '../hack/control-plane/control-plane.js';
import { freePort } from '../hack/control-plane/ports.js';
import { createServingCertificate, httpsRequest, type ServingCertificate } from '../test/setup/https-client.js';
import { pool } from './pool.js';

const VMIS = 10_000;
const VMIMS = 1_000;
const NAMESPACES = 20;
const DURATION_S = Number(process.env.BENCH_DURATION ?? 6);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WARMUP_S = 2;
const FIXED_RATE = 1_000;
const SATURATION_CONNECTIONS = 32;
const GROUP = { group: 'kubevirt.io', version: 'v1' };
/** Outside the control plane's work dir, which is removed at the end, so it can be read afterwards. */
const WEBHOOK_LOG = join(tmpdir(), 'live-migration-bench-webhook.log');

interface RunResult {
  target: string;
  mode: string;
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  non2xx: number;
  errors: number;
}

function log(message: string): void {
  process.stderr.write(`[bench webhook] ${message}\n`);
}


const nsOf = (i: number) => `bench-${i % NAMESPACES}`;
const vmiName = (i: number) => `vmi-${i}`;

type Api = (method: 'POST' | 'PUT' | 'GET', path: string, body?: unknown) => Promise<Record<string, unknown>>;

/** A minimal API client over one keep-alive agent: populating 22,000 objects is mostly TLS handshakes otherwise. */
function apiClient(cp: ControlPlaneState): { api: Api; close(): void } {
  const agent = new Agent({ keepAlive: true, maxSockets: 16, ca: readFileSync(cp.caCert), cert: readFileSync(cp.adminCert), key: readFileSync(cp.adminKey) });
  const api: Api = (method, path, body) =>
    new Promise((resolve, reject) => {
      const req = httpsRequestRaw(`${cp.server}${path}`, { method, agent, headers: { 'content-type': 'application/json' } }, (res) => {
        let data = '';
        res.on('data', (chunk: Buffer) => (data += chunk.toString()));
        res.on('end', () => {
          if ((res.statusCode ?? 500) >= 300) reject(new Error(`${method} ${path}: ${res.statusCode} ${data.slice(0, 300)}`));
          else resolve(data ? (JSON.parse(data) as Record<string, unknown>) : {});
        });
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  return { api, close: () => agent.destroy() };
}

const kubevirt = (namespace: string, plural: string) => `/apis/${GROUP.group}/${GROUP.version}/namespaces/${namespace}/${plural}`;

async function populate(api: Api): Promise<void> {
  for (const name of ['kubevirt', ...Array.from({ length: NAMESPACES }, (_, i) => nsOf(i))]) {
    await api('POST', '/api/v1/namespaces', { metadata: { name } });
  }
  await api('POST', '/api/v1/namespaces/kubevirt/configmaps', {
    metadata: { name: 'kubevirt-config' },
    data: { 'feature-gates': 'LiveMigration', migrations: 'bandwidthPerMigration: 64Mi\n' },
  });
  const started = Date.now();
  await pool(Array.from({ length: VMIS }, (_, i) => i), 16, async (i) => {
    const namespace = nsOf(i);
    const created = await api('POST', kubevirt(namespace, 'virtualmachineinstances'), {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstance',
        metadata: { name: vmiName(i), labels: { app: `app-${i % 50}` } },
        spec: { domain: { devices: {}, resources: { requests: { memory: '2Gi' } } }, volumes: [{ name: 'root', persistentVolumeClaim: { claimName: `pvc-${i}` } }] },
    });
    await api('PUT', `${kubevirt(namespace, 'virtualmachineinstances')}/${vmiName(i)}/status`, {
      ...created,
      status: {
        phase: 'Running',
        nodeName: `node-${i % 100}`,
        migrationMethod: 'LiveMigration',
        conditions: [{ type: 'LiveMigratable', status: 'True' }, { type: 'Ready', status: 'True' }],
      },
    });
  });
  log(`created ${VMIS} VMIs with status in ${Date.now() - started} ms`);
  // Finished migrations of the first VMIs: history the in-flight check has to look through.
  await pool(Array.from({ length: VMIMS }, (_, i) => i), 16, async (i) => {
    const namespace = nsOf(i);
    const created = await api('POST', kubevirt(namespace, 'virtualmachineinstancemigrations'), {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstanceMigration',
      metadata: { name: `mig-${i}`, labels: { 'kubevirt.io/vmi-name': vmiName(i) } },
      spec: { vmiName: vmiName(i) },
    });
    await api('PUT', `${kubevirt(namespace, 'virtualmachineinstancemigrations')}/mig-${i}/status`, { ...created, status: { phase: 'Succeeded' } });
  });
  log(`created ${VMIMS} VMIMs`);
}

/** Bodies for migrations of VMIs that have no migration in flight: the full admit path. */
function admissionBodies(count: number): string[] {
  return Array.from({ length: count }, (_, k) => {
    const i = VMIMS + ((k * 7919) % (VMIS - VMIMS));
    const namespace = nsOf(i);
    return JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: `bench-${k}`,
        kind: { group: 'kubevirt.io', version: 'v1', kind: 'VirtualMachineInstanceMigration' },
        resource: { group: 'kubevirt.io', version: 'v1', resource: 'virtualmachineinstancemigrations' },
        requestKind: { group: 'kubevirt.io', version: 'v1', kind: 'VirtualMachineInstanceMigration' },
        namespace,
        operation: 'CREATE',
        userInfo: { username: 'alice', groups: ['system:authenticated'] },
        object: {
          apiVersion: 'kubevirt.io/v1',
          kind: 'VirtualMachineInstanceMigration',
          metadata: { name: `bench-mig-${k}`, namespace, uid: `u-${k}`, creationTimestamp: null },
          spec: { vmiName: vmiName(i), addedNodeSelector: { 'topology.kubernetes.io/zone': 'zone-a' } },
        },
        oldObject: null,
        dryRun: false,
        options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
      },
    });
  });
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function load(target: string, url: string, bodies: string[], mode: 'fixed' | 'saturation', ca: string, expect: (body: string) => boolean): Promise<RunResult> {
  const common = {
    url,
    method: 'POST' as const,
    headers: { 'content-type': 'application/json' },
    tlsOptions: { ca },
    ...(mode === 'fixed' ? { connections: 10, overallRate: FIXED_RATE } : { connections: SATURATION_CONNECTIONS }),
  };
  let k = 0;
  const requests = [{ setupRequest: (req: autocannon.Request) => ({ ...req, body: bodies[k++ % bodies.length] }) }];
  await autocannon({ ...common, requests, duration: WARMUP_S });
  const latencies: number[] = [];
  let wrong = 0;
  let checked = 0;
  let instance: autocannon.Instance | undefined;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon({ ...common, requests, duration: DURATION_S }, (error, result) => (error ? reject(error) : resolve(result)));
  });
  // Latency of every response from hrtime (autocannon's own histogram rounds to whole ms).
  instance?.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => latencies.push(responseTime));
  // Check a sample of answers end to end: the webhook must admit and (mutating) patch.
  (instance as unknown as NodeJS.EventEmitter | undefined)?.on('body', (body: Buffer) => {
    if (checked++ % 97 === 0 && !expect(body.toString())) wrong++;
  });
  const result = await finished;
  const sorted = Float64Array.from(latencies).sort();
  return {
    target,
    mode: mode === 'fixed' ? `${FIXED_RATE} req/s` : `saturation (${SATURATION_CONNECTIONS} connections)`,
    requests: result.requests.total,
    requestsPerSecond: Math.round(result.requests.total / DURATION_S),
    p50Ms: Number(percentile(sorted, 50).toFixed(3)),
    p99Ms: Number(percentile(sorted, 99).toFixed(3)),
    maxMs: Number((sorted[sorted.length - 1] ?? NaN).toFixed(3)),
    non2xx: result.non2xx + wrong,
    errors: result.errors + result.timeouts,
  };
}

/** apiserver_request_total for the webhook's resources by resource and verb, WATCH left out. */
async function apiServerReads(cp: ControlPlaneState): Promise<Record<string, number>> {
  const { request } = await import('node:https');
  const text = await new Promise<string>((resolve, reject) => {
    const req = request(`${cp.server}/metrics`, { ca: readFileSync(cp.caCert), cert: readFileSync(cp.adminCert), key: readFileSync(cp.adminKey) }, (res) => {
      let data = '';
      res.on('data', (chunk: Buffer) => (data += chunk.toString()));
      res.on('end', () => resolve(data));
    });
    req.on('error', reject);
    req.end();
  });
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const resource = /resource="(virtualmachineinstances|virtualmachineinstancemigrations|configmaps)"/.exec(line)?.[1];
    const verb = /verb="([A-Z]+)"/.exec(line)?.[1];
    if (!resource || !verb || verb === 'WATCH') continue;
    const key = `${resource} ${verb}`;
    counts[key] = (counts[key] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return counts;
}

function difference(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([key, n]) => [key, n - (before[key] ?? 0)] as const).filter(([, n]) => n !== 0));
}

function startChild(args: string[], logFile: string): ChildProcess {
  const out = openSync(logFile, 'a');
  return spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: REPO_ROOT, stdio: ['ignore', out, out] });
}

async function waitReady(url: string, ca: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url} exited with ${child.exitCode}`);
    const res = await httpsRequest(url, { ca, timeoutMs: 1000 }).catch(() => undefined);
    if (res?.status === 200) return;
    await sleep(200);
  }
  throw new Error(`${url} not ready`);
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

export async function main(): Promise<void> {
  const resultsDir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  log('starting a local control plane');
  const cp = await startControlPlane();
  let webhook: ChildProcess | undefined;
  let noop: ChildProcess | undefined;
  let cert: ServingCertificate | undefined;
  try {
    const client = apiClient(cp);
    await populate(client.api);
    client.close();

    cert = createServingCertificate('bench');
    const [webhookPort, noopPort] = [await freePort(), await freePort()];
    webhook = startChild(
      ['cmd/webhook.ts', `--kubeconfig=${cp.kubeconfig}`, `--port=${webhookPort}`, '--host=127.0.0.1', `--tls-cert-file=${cert.certFile}`, `--tls-key-file=${cert.keyFile}`],
      WEBHOOK_LOG,
    );
    noop = startChild(['bench/noop-server.ts', cert.certFile, cert.keyFile, String(noopPort)], join(cp.workDir, 'noop.log'));
    const base = `https://127.0.0.1:${webhookPort}`;
    await waitReady(`${base}/readyz`, cert.caPem, webhook);
    await waitReady(`https://127.0.0.1:${noopPort}/readyz`, cert.caPem, noop);
    log(`webhook ready (caches synced); its log: ${WEBHOOK_LOG}`);

    const bodies = admissionBodies(500);
    const admitted = (body: string) => body.includes('"allowed":true');
    const patched = (body: string) => admitted(body) && body.includes('"patchType":"JSONPatch"');
    // Background drift: requests the API server's own controllers make while nothing else runs.
    const idleBefore = await apiServerReads(cp);
    await sleep(5000);
    const idle = difference(await apiServerReads(cp), idleBefore);

    const readsBefore = await apiServerReads(cp);
    const runs: RunResult[] = [];
    // Rounds interleave the three targets so that load from elsewhere on the machine hits all alike.
    for (let round = 1; round <= ROUNDS; round++) {
      for (const mode of ['fixed', 'saturation'] as const) {
        runs.push(await load('no-op express', `https://127.0.0.1:${noopPort}/noop`, bodies, mode, cert.caPem, admitted));
        runs.push(await load('validating', `${base}/validate-migration`, bodies, mode, cert.caPem, admitted));
        runs.push(await load('mutating', `${base}/mutate-migration`, bodies, mode, cert.caPem, patched));
      }
      log(`round ${round}/${ROUNDS} done`);
    }
    const duringLoad = difference(await apiServerReads(cp), readsBefore);
    const webhookMetrics = (await httpsRequest(`${base}/metrics`, { ca: cert.caPem })).body;
    const fallbackFetches = webhookMetrics
      .split('\n')
      .filter((line) => line.startsWith('live_migration_webhook_api_calls_total{'))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
    // The webhook's own time per admission (first middleware to answer written; queueing in the
    // event loop and the client's side excluded), from its histogram over all runs.
    const serverTime = Object.fromEntries(
      ['/validate-migration', '/mutate-migration'].map((path) => {
        const buckets = webhookMetrics
          .split('\n')
          .filter((line) => line.startsWith('live_migration_webhook_request_duration_seconds_bucket{') && line.includes(`path="${path}"`) && line.includes('code="200"'))
          .map((line) => ({ le: /le="([^"]+)"/.exec(line)?.[1] ?? '', count: Number(line.slice(line.lastIndexOf(' ') + 1)) }));
        const total = buckets.find((b) => b.le === '+Inf')?.count ?? 0;
        const share = (le: string) => Number(((buckets.find((b) => b.le === le)?.count ?? 0) / total).toFixed(4));
        return [path, { requests: total, shareUnder0_5ms: share('0.0005'), shareUnder1ms: share('0.001'), shareUnder2ms: share('0.002') }];
      }),
    );
    const admissions = runs.filter((r) => r.target !== 'no-op express').reduce((sum, r) => sum + r.requests, 0);

    // The median run of each target and mode (by p99 at the fixed rate, by requests/s at saturation).
    const results = ['fixed', 'saturation'].flatMap((mode) =>
      ['no-op express', 'validating', 'mutating'].map((target) => {
        const same = runs
          .filter((r) => r.target === target && r.mode.startsWith(mode === 'fixed' ? String(FIXED_RATE) : 'saturation'))
          .sort((a, b) => (mode === 'fixed' ? a.p99Ms - b.p99Ms : a.requestsPerSecond - b.requestsPerSecond));
        return same[Math.floor(same.length / 2)] as RunResult;
      }),
    );
    // Saturation is compared within each round (the no-op ran just before), then the median taken,
    // so that load from elsewhere on a shared machine cancels out as far as it can.
    const medianRatio = (target: string) => {
      const ratios: number[] = [];
      const saturated = runs.filter((r) => r.mode.startsWith('saturation'));
      for (let i = 0; i + 2 < saturated.length; i += 3) {
        const noop = saturated[i] as RunResult;
        const other = saturated.slice(i, i + 3).find((r) => r.target === target) as RunResult;
        ratios.push(other.requestsPerSecond / noop.requestsPerSecond);
      }
      ratios.sort((a, b) => a - b);
      return Number((ratios[Math.floor(ratios.length / 2)] ?? NaN).toFixed(3));
    };
    const fixed = (target: string) => results.find((r) => r.target === target && !r.mode.startsWith('saturation'));
    const report = {
      date: new Date().toISOString(),
      command: 'npm run bench -- webhook',
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadAverageAtEnd: loadavg() },
      cache: { vmis: VMIS, vmims: VMIMS, namespaces: NAMESPACES },
      durationSeconds: DURATION_S,
      rounds: ROUNDS,
      results,
      runs,
      serverProcessingTime: serverTime,
      apiCalls: {
        admissionRequestsAnswered: admissions,
        webhookApiCallsCounter: fallbackFetches,
        apiServerRequestsDuringLoad: duringLoad,
        apiServerRequestsDuring5sIdle: idle,
      },
      targets: {
        p99AtFixedRateMs: { target: 2, validating: fixed('validating')?.p99Ms, mutating: fixed('mutating')?.p99Ms },
        saturationVsNoopMedianOfRounds: { target: 0.7, validating: medianRatio('validating'), mutating: medianRatio('mutating') },
      },
    };
    console.table(results);
    console.log(JSON.stringify({ serverProcessingTime: report.serverProcessingTime, apiCalls: report.apiCalls, targets: report.targets }, null, 2));
    const file = join(resultsDir, `webhook-${report.date.slice(0, 19).replace(/:/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    log(`written to ${file}`);
  } finally {
    await stopChild(webhook);
    await stopChild(noop);
    await stopControlPlane(cp);
    if (cert) rmSync(cert.dir, { recursive: true, force: true });
  }
}
