// Scale benchmark of the reconciler (`npm run bench -- scale`): N migrations over M simulated
// nodes at the default limits (5 per cluster, 2 out and 2 in per node), on a real API server.
// Every migration moves the same memory at the same cap, so each takes T = memory ÷ cap and the
// limits allow no better than ceil(N ÷ 5) × T: the makespan is reported as a ratio to that bound.
// Dispatch latency: from the moment a slot frees (a migration ends) to the Running of the
// migration that takes it, from the phase timestamps the reconciler wrote; the baseline measured
// in the same run is one status write round trip (PATCH answered). API writes per migration come
// from the reconciler's own counter. Then the API server is filled to 10,000 VMIs (with the 1,000
// VMIMs) and the reconciler's RSS is read from its /metrics.
// Environment: BENCH_MIGRATIONS (1000), BENCH_NODES (100), BENCH_MEMORY (128Mi), BENCH_VMIS (10000),
// BENCH_COMPONENT_NODE_OPTIONS (NODE_OPTIONS of the components; default: the image's).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { REPO_ROOT } from '../api/generated-files.js';
import { parseQuantity } from '../api/quantity.js';
import type { VirtualMachineInstanceMigration } from '../api/schemas/vmim.js';
import { startControlPlane, stopControlPlane } from '../hack/control-plane/control-plane.js';
import { startLocalSystem, stopLocalSystem } from '../hack/system/local-system.js';
import { pool } from './pool.js';

const MIGRATIONS = Number(process.env.BENCH_MIGRATIONS ?? 1000);
const NODES = Number(process.env.BENCH_NODES ?? 100);
const MEMORY = process.env.BENCH_MEMORY ?? '128Mi';
const TOTAL_VMIS = Number(process.env.BENCH_VMIS ?? 10_000);
const BANDWIDTH = '64Mi';
/** The image's default (Dockerfile ENV NODE_OPTIONS), so the benchmark measures what ships. */
const COMPONENT_NODE_OPTIONS = process.env.BENCH_COMPONENT_NODE_OPTIONS ?? '--max-semi-space-size=2 --max-old-space-size=192';
const CLUSTER_LIMIT = 5;
const NS = 'scale';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const vmiGroup = { group: 'kubevirt.io', version: 'v1', namespace: NS, plural: 'virtualmachineinstances' };
const vmimGroup = { group: 'kubevirt.io', version: 'v1', namespace: NS, plural: 'virtualmachineinstancemigrations' };

function log(message: string): void {
  process.stderr.write(`[bench scale] ${message}\n`);
}


function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function stamp(vmim: VirtualMachineInstanceMigration, phase: string): number {
  const value = vmim.status?.phaseTransitionTimestamps?.find((p) => p.phase === phase)?.phaseTransitionTimestamp;
  return value ? Date.parse(value) : NaN;
}

/** Pairs each admission after the first wave with the earliest slot freed before it. */
function dispatchLatencies(vmims: VirtualMachineInstanceMigration[]): number[] {
  const ends = vmims.map((m) => Math.max(stamp(m, 'Succeeded'), stamp(m, 'Failed')) || stamp(m, 'Succeeded')).filter(Number.isFinite).sort((a, b) => a - b);
  const byAdmission = [...vmims].sort((a, b) => stamp(a, 'Scheduled') - stamp(b, 'Scheduled'));
  const latencies: number[] = [];
  let freed = 0;
  byAdmission.forEach((m, i) => {
    if (i < CLUSTER_LIMIT) return; // the first wave took slots that were free from the start
    const slotFreedAt = ends[freed++];
    const running = stamp(m, 'Running');
    if (slotFreedAt !== undefined && Number.isFinite(running)) latencies.push(Math.max(0, running - slotFreedAt));
  });
  return latencies;
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

async function metricByLabel(port: number, name: string): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${name}\\{kind="([a-z]+)"\\} (\\S+)$`).exec(line);
    if (match?.[1] && match[2]) out[match[1]] = Number(match[2]);
  }
  return out;
}

export async function main(): Promise<void> {
  // The components run compiled, as in the image: tsx's transpiler would add ~80 MiB of RSS.
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, stdio: 'inherit' });
  const workDir = mkdtempSync(join(tmpdir(), 'live-migration-bench-scale-'));
  const control = await startControlPlane({ ownerPid: process.pid });
  log(`control plane up in ${control.timings.totalMs} ms`);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(control.kubeconfig);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const nodes = Array.from({ length: NODES }, (_, i) => ({ name: `node-${String(i + 1).padStart(3, '0')}` }));
  const system = await startLocalSystem({
    kubeconfig: control.kubeconfig,
    workDir,
    namespace: 'live-migration',
    configLocation: { namespace: 'kubevirt', name: 'kubevirt-config' },
    configData: { 'feature-gates': 'LiveMigration', migrations: `bandwidthPerMigration: ${BANDWIDTH}` },
    nodes,
    env: { LOG_LEVEL: 'warn', NODE_OPTIONS: COMPONENT_NODE_OPTIONS },
    compiled: true,
  });
  const reconciler = system.processes.find((p) => p.name.startsWith('reconciler'));
  if (!reconciler) throw new Error('no reconciler');
  try {
    await kubeConfig.makeApiClient((await import('@kubernetes/client-node')).CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });

    // Baseline: one status write round trip on this API server, now.
    const probe = 'vmi-probe';
    await custom.createNamespacedCustomObject({ ...vmiGroup, body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: probe, annotations: { 'live-migration.io/placement': 'external' } }, spec: {} } });
    const patchMs: number[] = [];
    for (let i = 0; i < 100; i++) {
      const t = performance.now();
      await custom.patchNamespacedCustomObjectStatus({ ...vmiGroup, name: probe, body: { status: { phase: 'Scheduling', nodeName: `p${i}` } } }, mergePatch);
      patchMs.push(performance.now() - t);
    }

    log(`creating ${MIGRATIONS} running VMIs on ${NODES} nodes`);
    const indexes = Array.from({ length: MIGRATIONS }, (_, i) => i);
    await pool(indexes, 16, async (i) => {
      const name = `vmi-${i}`;
      await custom.createNamespacedCustomObject({
        ...vmiGroup,
        body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name, annotations: { 'live-migration.io/placement': 'external' } }, spec: { domain: { resources: { requests: { memory: MEMORY } }, devices: {} } } },
      });
      await custom.patchNamespacedCustomObjectStatus({ ...vmiGroup, name, body: { status: { phase: 'Running', nodeName: nodes[i % NODES]?.name } } }, mergePatch);
    });
    await sleep(2000); // let the migratability controller settle, so its writes are not counted below
    const writesBefore = await metricByLabel(reconciler.port, 'live_migration_reconciler_api_writes_total');

    log(`creating ${MIGRATIONS} migrations at once`);
    const t0 = Date.now();
    await pool(indexes, 16, async (i) => {
      await custom.createNamespacedCustomObject({
        ...vmimGroup,
        body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name: `mig-${i}` }, spec: { vmiName: `vmi-${i}` } },
      });
    });
    const created = Date.now();
    let vmims: VirtualMachineInstanceMigration[] = [];
    for (;;) {
      vmims = ((await custom.listNamespacedCustomObject(vmimGroup)) as { items: VirtualMachineInstanceMigration[] }).items;
      const done = vmims.filter((m) => (m.status?.phase === 'Succeeded' || m.status?.phase === 'Failed') && !(m.metadata.finalizers ?? []).length).length;
      if (done === MIGRATIONS) break;
      log(`${done}/${MIGRATIONS} finished after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      await sleep(5000);
    }
    const firstCreated = Math.min(...vmims.map((m) => Date.parse(m.metadata.creationTimestamp ?? '')));
    const lastEnded = Math.max(...vmims.map((m) => stamp(m, 'Succeeded') || stamp(m, 'Failed')).filter(Number.isFinite));
    const makespanS = (lastEnded - firstCreated) / 1000;
    const transferS = parseQuantity(MEMORY) / parseQuantity(BANDWIDTH);
    const lowerBoundS = Math.ceil(MIGRATIONS / CLUSTER_LIMIT) * transferS;
    const durations = vmims.map((m) => (stamp(m, 'Succeeded') - stamp(m, 'Running')) / 1000).filter(Number.isFinite);
    const latencies = dispatchLatencies(vmims);
    await sleep(1000);
    const writesAfter = await metricByLabel(reconciler.port, 'live_migration_reconciler_api_writes_total');
    const writes = Object.fromEntries(Object.entries(writesAfter).map(([k, v]) => [k, v - (writesBefore[k] ?? 0)]));
    const totalWrites = Object.values(writes).reduce((a, b) => a + b, 0);
    const failed = vmims.filter((m) => m.status?.phase !== 'Succeeded').length;

    log(`filling the API server to ${TOTAL_VMIS} VMIs`);
    const extra = Array.from({ length: Math.max(0, TOTAL_VMIS - MIGRATIONS) }, (_, i) => i + MIGRATIONS);
    await pool(extra, 16, async (i) => {
      await custom.createNamespacedCustomObject({
        ...vmiGroup,
        body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: `vmi-${i}`, annotations: { 'live-migration.io/placement': 'external' } }, spec: { domain: { resources: { requests: { memory: MEMORY } }, devices: {} } } },
      });
    });
    // Settle: the VMI controller evaluates every new VMI (one status write each).
    await sleep(30_000);
    const rssBytes = await metric(reconciler.port, 'live_migration_reconciler_process_resident_memory_bytes');
    const heapBytes = await metric(reconciler.port, 'live_migration_reconciler_nodejs_heap_size_used_bytes');

    const result = {
      benchmark: 'scale',
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, loadavg: loadavg() },
      setup: { migrations: MIGRATIONS, nodes: NODES, memory: MEMORY, bandwidth: BANDWIDTH, limits: { cluster: 5, outboundPerNode: 2, inboundPerNode: 2 } },
      makespan: { seconds: makespanS, lowerBoundSeconds: lowerBoundS, ratio: makespanS / lowerBoundS, goal: '<= 1.05', creationSeconds: (created - t0) / 1000 },
      migrationRunningSeconds: { p50: percentile(durations, 50), p99: percentile(durations, 99), physical: transferS },
      dispatchLatencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), samples: latencies.length, goal: 'p50 <= 250, p99 <= 1000' },
      baselineStatusPatchMs: { p50: percentile(patchMs, 50), p99: percentile(patchMs, 99) },
      apiWritesPerMigration: {
        total: totalWrites / MIGRATIONS,
        objectWrites: (totalWrites - (writes.event ?? 0)) / MIGRATIONS,
        byKind: Object.fromEntries(Object.entries(writes).map(([k, v]) => [k, v / MIGRATIONS])),
        note: 'no webhook here, so the reconciler adds the finalizer itself (1 metadata write the webhook saves)',
        goal: '<= 15',
      },
      failed,
      reconcilerRss: {
        mebibytes: rssBytes / 2 ** 20,
        heapUsedMebibytes: heapBytes / 2 ** 20,
        nodeOptions: COMPONENT_NODE_OPTIONS,
        cachedVmis: TOTAL_VMIS,
        cachedVmims: MIGRATIONS,
        goal: '<= 200 MiB',
      },
    };
    console.log(JSON.stringify(result, null, 2));
    mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
    const file = join(REPO_ROOT, 'bench/results', `scale-${result.at.replace(/[:.]/g, '-').slice(0, 19)}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    log(`written to ${file}`);
  } finally {
    await stopLocalSystem(system).catch(() => undefined);
    await stopControlPlane(control);
    rmSync(workDir, { recursive: true, force: true });
  }
}
