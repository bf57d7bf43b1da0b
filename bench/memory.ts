// Memory benchmark (`npm run bench -- memory`): is the reconciler's heap flat over 10,000
// migrations? The migration controller runs in this process (bench/in-process-reconciler.ts)
// against a real API server and a real simulation agent process, so the heap can be read after a
// full GC and the controller's per-migration soft state (softStateSize) read directly. The same
// VMIs are migrated again and again in batches (one migration per VMI per batch); the reconciler's
// history pruning keeps the newest finished migrations per VMI, so the caches hold a steady number
// of objects and anything that grows with the count of migrations is a leak.
// At every checkpoint: heap used after GC, softStateSize, cache sizes, queue lengths, the agent's heap.
// Environment: MEMORY_MIGRATIONS (10000), MEMORY_VMIS (150: the history is full after 900, so the
// base is heap@1k), MEMORY_NODES (20), MEMORY_CHECKPOINT (1000), MEMORY_PARALLEL (20:
// parallelMigrationsPerCluster), MEMORY_MAX_RATIO (1.15: heap@last ÷ heap at the first checkpoint
// with the history full above this, or softStateSize growing, is a failure, exit 1).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { REPO_ROOT } from '../api/generated-files.js';
import { startControlPlane, stopControlPlane } from '../hack/control-plane/control-plane.js';
import { startLocalSystem, stopLocalSystem } from '../hack/system/local-system.js';
import { startInProcessReconciler } from './in-process-reconciler.js';
import { pool } from './pool.js';

const env = process.env;
const MIGRATIONS = Number(env.MEMORY_MIGRATIONS ?? 10_000);
const VMIS = Number(env.MEMORY_VMIS ?? 150);
const NODES = Number(env.MEMORY_NODES ?? 20);
const CHECKPOINT = Number(env.MEMORY_CHECKPOINT ?? 1000);
const PARALLEL = Number(env.MEMORY_PARALLEL ?? 20);
const MAX_RATIO = Number(env.MEMORY_MAX_RATIO ?? 1.15);
const NS = 'memory';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const group = { group: 'kubevirt.io', version: 'v1', namespace: NS };
const MiB = 2 ** 20;

function log(message: string): void {
  process.stderr.write(`[bench memory ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** A full, synchronous GC: the heap left is what is really held. */
function collectGarbage(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function agentHeapBytes(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('live_migration_agent_nodejs_heap_size_used_bytes '));
  return line ? Number(line.split(' ').pop()) : NaN;
}

export async function main(): Promise<void> {
  const gc = collectGarbage();
  const workDir = mkdtempSync(join(tmpdir(), 'live-migration-bench-memory-'));
  const control = await startControlPlane({ ownerPid: process.pid });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(control.kubeconfig);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const nodes = Array.from({ length: NODES }, (_, i) => ({ name: `node-${String(i + 1).padStart(2, '0')}` }));
  const system = await startLocalSystem({
    kubeconfig: control.kubeconfig,
    workDir,
    namespace: 'live-migration',
    configLocation: { namespace: 'kubevirt', name: 'kubevirt-config' },
    configData: { 'feature-gates': 'LiveMigration', migrations: `parallelMigrationsPerCluster: ${PARALLEL}\nparallelOutboundMigrationsPerNode: 2\nparallelInboundMigrationsPerNode: 2\nbandwidthPerMigration: "0"` },
    nodes,
    reconcilers: 0,
    env: { LOG_LEVEL: 'warn' },
  });
  const agent = system.processes.find((p) => p.name === 'agent');
  if (!agent || !system.reconcilerIdentity) throw new Error('no agent or reconciler identity');
  const reconciler = await startInProcessReconciler({
    kubeconfig: system.reconcilerIdentity.kubeconfig,
    configLocation: { namespace: 'kubevirt', name: 'kubevirt-config' },
    namespace: 'live-migration',
    watchNamespace: NS,
    agentTls: { caFile: system.pki.caCert, certFile: system.pki.reconcilerCert, keyFile: system.pki.reconcilerKey },
  });
  let failedCheck = false;
  try {
    await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
    log(`creating ${VMIS} running VMIs on ${NODES} nodes`);
    await pool(Array.from({ length: VMIS }, (_, i) => i), 8, async (i) => {
      const name = `vmi-${i}`;
      await custom.createNamespacedCustomObject({
        ...group,
        plural: 'virtualmachineinstances',
        body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name }, spec: { domain: { resources: { requests: { memory: '16Mi' } }, devices: {} } } },
      });
      await custom.patchNamespacedCustomObjectStatus({ ...group, plural: 'virtualmachineinstances', name, body: { status: { phase: 'Running', nodeName: nodes[i % NODES]?.name } } }, mergePatch);
    });
    await sleep(3000);

    const samples: Array<Record<string, unknown> & { migrations: number; heapUsedMiB: number; softStateSize: number }> = [];
    const t0 = Date.now();
    let done = 0;
    let failed = 0;
    for (let batch = 0; done < MIGRATIONS; batch++) {
      const size = Math.min(VMIS, MIGRATIONS - done);
      const names = new Set(Array.from({ length: size }, (_, i) => `m-${batch}-${i}`));
      await pool([...names], 8, async (name) => {
        const vmiName = `vmi-${name.split('-')[2]}`;
        await custom.createNamespacedCustomObject({ ...group, plural: 'virtualmachineinstancemigrations', body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name }, spec: { vmiName } } });
      });
      // Done when the controller's own cache shows every one final with its finalizer gone.
      for (;;) {
        const ours = reconciler.cachedMigrations().filter((m) => names.has(m.metadata.name ?? ''));
        const ended = ours.filter((m) => (m.status?.phase === 'Succeeded' || m.status?.phase === 'Failed') && (m.metadata.finalizers ?? []).length === 0);
        if (ended.length === size) {
          failed += ended.filter((m) => m.status?.phase === 'Failed').length;
          break;
        }
        await sleep(250);
      }
      const before = done;
      done += size;
      if (Math.floor(done / CHECKPOINT) > Math.floor(before / CHECKPOINT) || done >= MIGRATIONS) {
        await sleep(2000); // let the last writes' echoes and the history pruning settle
        gc();
        gc();
        const heapUsedMiB = process.memoryUsage().heapUsed / MiB;
        const sample = {
          migrations: done,
          elapsedS: Math.round((Date.now() - t0) / 1000),
          heapUsedMiB: Math.round(heapUsedMiB * 100) / 100,
          softStateSize: reconciler.migrations.softStateSize,
          caches: reconciler.cacheSizes(),
          queues: reconciler.queueLengths(),
          agentHeapUsedMiB: Math.round(((await agentHeapBytes(agent.port)) / MiB) * 100) / 100,
        };
        samples.push(sample);
        log(JSON.stringify(sample));
      }
    }
    // The base: the first sample with the history full (finishedMigrationsPerVMI = 5, plus the
    // batch just run, per VMI): before it the caches are still filling, as they should.
    const first = samples.find((s) => s.migrations >= VMIS * 6) ?? samples[0];
    const last = samples[samples.length - 1];
    const ratio = first && last ? last.heapUsedMiB / first.heapUsedMiB : NaN;
    failedCheck = !(ratio <= MAX_RATIO) || (last?.softStateSize ?? 0) > (first?.softStateSize ?? 0) + PARALLEL;
    const result = {
      benchmark: 'memory',
      at: new Date().toISOString(),
      command: 'npm run bench -- memory',
      machine: { cpus: cpus().length, loadavg: loadavg() },
      setup: { migrations: MIGRATIONS, vmis: VMIS, nodes: NODES, parallelMigrationsPerCluster: PARALLEL, memory: '16Mi', bandwidth: 'unlimited', finishedMigrationsPerVMI: 5, how: 'migration controller in this process (node gc() before each sample), real kube-apiserver + etcd, real simulation agent process' },
      failed,
      seconds: Math.round((Date.now() - t0) / 1000),
      heapRatioLastToFirst: Math.round(ratio * 1000) / 1000,
      goal: `heap@${last?.migrations} / heap@${first?.migrations} <= ${MAX_RATIO}; softStateSize not growing with the count`,
      verdict: failedCheck ? 'grows' : 'flat',
      samples,
    };
    console.log(JSON.stringify(result, null, 2));
    mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
    const file = join(REPO_ROOT, 'bench/results', `memory-${result.at.replace(/[:.]/g, '-').slice(0, 19)}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    log(`written to ${file}`);
  } finally {
    await reconciler.stop().catch(() => undefined);
    await stopLocalSystem(system).catch(() => undefined);
    await stopControlPlane(control);
    rmSync(workDir, { recursive: true, force: true });
  }
  if (failedCheck) process.exitCode = 1;
}
