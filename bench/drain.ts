// Node drain benchmark (`npm run bench -- drain`): N VMIs on one simulated node, the drain taint
// put on it, and the time until it holds none, against the bound the limits allow. Every VMI moves
// the same memory at the same cap, so one evacuation takes T = memory ÷ bandwidth; at most
// P = min(parallelOutboundMigrationsPerNode, parallelMigrationsPerCluster,
// parallelInboundMigrationsPerNode × other nodes) run at once, so no drain beats ceil(N ÷ P) × T.
// Reported: that time, the bound and their ratio, how long until the first and the last
// evacuation migration existed, and the peak outbound slots held (from the phase timestamps).
// Environment: BENCH_DRAIN_VMIS (40), BENCH_DRAIN_NODES (6), BENCH_MEMORY (128Mi).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { REPO_ROOT } from '../api/generated-files.js';
import { EVACUATION_ANNOTATION } from '../api/names.js';
import { parseQuantity } from '../api/quantity.js';
import type { VirtualMachineInstance } from '../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../api/schemas/vmim.js';
import { startControlPlane, stopControlPlane } from '../hack/control-plane/control-plane.js';
import { startLocalSystem, stopLocalSystem } from '../hack/system/local-system.js';
import { pool } from './pool.js';

const VMIS = Number(process.env.BENCH_DRAIN_VMIS ?? 40);
const NODES = Number(process.env.BENCH_DRAIN_NODES ?? 6);
const MEMORY = process.env.BENCH_MEMORY ?? '128Mi';
const BANDWIDTH = '64Mi';
const LIMITS = { cluster: 5, outbound: 2, inbound: 2 };
const NS = 'drain';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const vmiGroup = { group: 'kubevirt.io', version: 'v1', namespace: NS, plural: 'virtualmachineinstances' };
const vmimGroup = { group: 'kubevirt.io', version: 'v1', namespace: NS, plural: 'virtualmachineinstancemigrations' };

function log(message: string): void {
  process.stderr.write(`[bench drain] ${message}\n`);
}

function stamp(vmim: VirtualMachineInstanceMigration, phase: string): number {
  const value = vmim.status?.phaseTransitionTimestamps?.find((p) => p.phase === phase)?.phaseTransitionTimestamp;
  return value ? Date.parse(value) : Number.NaN;
}

/** Most evacuations holding a slot at once, from their Scheduled and final timestamps. */
function peakOutbound(vmims: readonly VirtualMachineInstanceMigration[]): number {
  const edges = vmims.flatMap((m) => [{ at: stamp(m, 'Scheduled'), d: 1 }, { at: Math.max(stamp(m, 'Succeeded') || 0, stamp(m, 'Failed') || 0), d: -1 }]);
  edges.sort((a, b) => a.at - b.at || a.d - b.d);
  let now = 0;
  let peak = 0;
  for (const e of edges) peak = Math.max(peak, (now += e.d));
  return peak;
}

export async function main(): Promise<void> {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, stdio: 'inherit' });
  const workDir = mkdtempSync(join(tmpdir(), 'live-migration-bench-drain-'));
  const control = await startControlPlane({ ownerPid: process.pid });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(control.kubeconfig);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const nodes = Array.from({ length: NODES }, (_, i) => ({ name: `node-${i + 1}` }));
  const source = nodes[0]?.name ?? '';
  const system = await startLocalSystem({
    kubeconfig: control.kubeconfig,
    workDir,
    namespace: 'live-migration',
    configLocation: { namespace: 'kubevirt', name: 'kubevirt-config' },
    configData: {
      'feature-gates': 'LiveMigration',
      evictionStrategy: 'LiveMigrate',
      migrations: `bandwidthPerMigration: ${BANDWIDTH}\nparallelMigrationsPerCluster: ${LIMITS.cluster}\nparallelOutboundMigrationsPerNode: ${LIMITS.outbound}\nparallelInboundMigrationsPerNode: ${LIMITS.inbound}`,
    },
    nodes,
    env: { LOG_LEVEL: 'warn' },
    compiled: true,
  });
  try {
    await core.createNamespace({ body: { metadata: { name: NS } } });
    log(`creating ${VMIS} running VMIs on ${source}`);
    const names = Array.from({ length: VMIS }, (_, i) => `vmi-${i}`);
    await pool(names, 8, async (name) => {
      await custom.createNamespacedCustomObject({ ...vmiGroup, body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name }, spec: { domain: { resources: { requests: { memory: MEMORY } }, devices: {} } } } });
      await custom.patchNamespacedCustomObjectStatus({ ...vmiGroup, name, body: { status: { phase: 'Running', nodeName: source } } }, mergePatch);
    });
    const list = async () => ((await custom.listNamespacedCustomObject(vmiGroup)) as { items: VirtualMachineInstance[] }).items;
    while (!(await list()).every((v) => v.status?.conditions?.some((c) => c.type === 'LiveMigratable' && c.status === 'True'))) await sleep(200);

    log(`tainting ${source} kubevirt.io/drain=draining:NoSchedule`);
    const t0 = Date.now();
    await core.patchNode({ name: source, body: { spec: { taints: [{ key: 'kubevirt.io/drain', value: 'draining', effect: 'NoSchedule' }] } } }, mergePatch);
    let emptyAt = 0;
    for (;;) {
      const left = (await list()).filter((v) => v.status?.nodeName === source).length;
      if (left === 0) {
        emptyAt = Date.now();
        break;
      }
      log(`${left} VMIs left after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      await sleep(left > 5 ? 2000 : 100);
    }
    const vmims = ((await custom.listNamespacedCustomObject(vmimGroup)) as { items: VirtualMachineInstanceMigration[] }).items.filter((m) => m.metadata.annotations?.[EVACUATION_ANNOTATION] === source);
    const transferS = parseQuantity(MEMORY) / parseQuantity(BANDWIDTH);
    const parallel = Math.min(LIMITS.outbound, LIMITS.cluster, LIMITS.inbound * (NODES - 1));
    const boundS = Math.ceil(VMIS / parallel) * transferS;
    const drainS = (emptyAt - t0) / 1000;
    const lastEnd = Math.max(...vmims.map((m) => stamp(m, 'Succeeded')).filter(Number.isFinite));
    const pending = vmims.map((m) => stamp(m, 'Pending')).filter(Number.isFinite);
    const result = {
      benchmark: 'drain',
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, loadavg: loadavg() },
      setup: { vmis: VMIS, nodes: NODES, memory: MEMORY, bandwidth: BANDWIDTH, limits: LIMITS, webhook: false },
      drain: {
        seconds: drainS,
        lastEvacuationSucceededSeconds: (lastEnd - t0) / 1000,
        boundSeconds: boundS,
        ratio: drainS / boundS,
        bound: `ceil(${VMIS} / min(outbound ${LIMITS.outbound}, cluster ${LIMITS.cluster}, inbound ${LIMITS.inbound} × ${NODES - 1} nodes)) × ${transferS} s (${MEMORY} at ${BANDWIDTH}/s)`,
      },
      evacuations: {
        created: vmims.length,
        succeeded: vmims.filter((m) => m.status?.phase === 'Succeeded').length,
        firstCreatedSeconds: (Math.min(...pending) - t0) / 1000,
        lastCreatedSeconds: (Math.max(...pending) - t0) / 1000,
        peakOutbound: peakOutbound(vmims),
      },
    };
    console.log(JSON.stringify(result, null, 2));
    mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
    const file = join(REPO_ROOT, 'bench/results', `drain-${result.at.replace(/[:.]/g, '-').slice(0, 19)}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    log(`written to ${file}`);
  } finally {
    await stopLocalSystem(system).catch(() => undefined);
    await stopControlPlane(control);
    rmSync(workDir, { recursive: true, force: true });
  }
}
