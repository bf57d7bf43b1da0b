// Chaos benchmark (`npm run bench -- chaos`): the whole system on a real control plane with
// simulated nodes, two reconciler replicas under leader election, the webhook, tight limits; a
// steady stream of migrations (some cancelled by deleting the VMIM at a random moment) while, at
// random moments from a seeded PRNG, the leader is SIGKILLed or switched, the agent is SIGKILLed,
// the webhook is stopped for a while, and kube-apiserver + etcd are stopped and started again on
// the same data. Then a bounded drain, and the invariants (bench/chaos-checks.ts): nothing lost,
// nothing started twice, limits never exceeded (from the phase stamps the reconciler wrote), no
// finalizer left, the VMI never behind a final VMIM, recovery ≤ CHAOS_RECOVERY_BOUND_S after each
// fault. Exit 1 when an invariant is broken; the components' logs are then kept (path printed).
// Environment: CHAOS_SEED (random), CHAOS_MIGRATIONS (240), CHAOS_NODES (6), CHAOS_ROUNDS (2: each
// fault kind per round), CHAOS_GAP_S ("8-16"), CHAOS_CANCEL_RATIO (0.2), CHAOS_MEMORY (64Mi at
// 32Mi/s), CHAOS_DRAIN_S (150), CHAOS_RECOVERY_BOUND_S (10), CHAOS_KEEP_LOGS (dir: always keep logs).
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { REPO_ROOT } from '../api/generated-files.js';
import type { VirtualMachineInstance } from '../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../api/schemas/vmim.js';
import { startControlPlane, stopControlPlane } from '../hack/control-plane/control-plane.js';
import { startLocalSystem, stopLocalSystem } from '../hack/system/local-system.js';
import { FaultInjector, planFaults, prng, type FaultRecord } from './chaos-faults.js';
import { ChaosObserver } from './chaos-observer.js';
import { chaosReport } from './chaos-report.js';
import { pool } from './pool.js';

const env = process.env;
const SEED = Number(env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const MIGRATIONS = Number(env.CHAOS_MIGRATIONS ?? 240);
const NODES = Number(env.CHAOS_NODES ?? 6);
const ROUNDS = Number(env.CHAOS_ROUNDS ?? 2);
const [GAP_MIN, GAP_MAX] = (env.CHAOS_GAP_S ?? '8-16').split('-').map(Number) as [number, number];
const CANCEL_RATIO = Number(env.CHAOS_CANCEL_RATIO ?? 0.2);
const MEMORY = env.CHAOS_MEMORY ?? '64Mi';
const DRAIN_S = Number(env.CHAOS_DRAIN_S ?? 150);
const RECOVERY_BOUND_S = Number(env.CHAOS_RECOVERY_BOUND_S ?? 10);
const LIMITS = { cluster: 5, outboundPerNode: 2, inboundPerNode: 2 };
const NS = 'chaos';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const group = { group: 'kubevirt.io', version: 'v1', namespace: NS };

function log(message: string): void {
  process.stderr.write(`[bench chaos ${new Date().toISOString().slice(11, 23)}] ${message}\n`);
}

/** Retries `call` while the API server (or the webhook) is away; gives up after `ms`. */
async function persist<T>(what: string, call: () => Promise<T>, onRefused: () => void, ms = 120_000): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code === 404) return undefined;
      onRefused();
      if (Date.now() > deadline) throw new Error(`${what}: ${String(error)}`);
      await sleep(500);
    }
  }
}

export async function main(): Promise<void> {
  const random = prng(SEED);
  const plan = planFaults(random, ROUNDS, [GAP_MIN, GAP_MAX]);
  // Every random choice is drawn now, so the seed alone repeats the run's decisions.
  const cancels = Array.from({ length: MIGRATIONS }, () => (random() < CANCEL_RATIO ? Math.round(random() * 6000) : undefined));
  // Restoring takes time of its own (a stop with its grace period, a start, readiness).
  const windowS = plan.reduce((s, f) => s + f.gapS + f.downS + (f.kind === 'apiserver-etcd-restart' ? 15 : 4), 0);
  // The last tenth is created once the last fault is over, so there is work after every fault.
  const TAIL = Math.ceil(MIGRATIONS / 10);
  log(`seed ${SEED}: ${MIGRATIONS} migrations over ~${windowS.toFixed(0)} s, ${cancels.filter((c) => c !== undefined).length} cancelled, faults: ${plan.map((f) => f.kind).join(', ')}`);

  const workDir = mkdtempSync(join(tmpdir(), 'live-migration-bench-chaos-'));
  const control = await startControlPlane({ ownerPid: process.pid });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(control.kubeconfig);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const nodes = Array.from({ length: NODES }, (_, i) => ({ name: `node-${i + 1}` }));
  const system = await startLocalSystem({
    kubeconfig: control.kubeconfig,
    workDir,
    namespace: 'live-migration',
    configLocation: { namespace: 'kubevirt', name: 'kubevirt-config' },
    configData: {
      'feature-gates': 'LiveMigration',
      // targetReadyTimeout bounds a migration whose agent forgot it, so the drain is bounded too.
      migrations: `parallelMigrationsPerCluster: ${LIMITS.cluster}\nparallelOutboundMigrationsPerNode: ${LIMITS.outboundPerNode}\nparallelInboundMigrationsPerNode: ${LIMITS.inboundPerNode}\nbandwidthPerMigration: 32Mi\ntargetReadyTimeout: 30`,
    },
    nodes,
    webhook: { suffix: 'chaos' },
    reconcilers: 2,
    leaderElection: { leaseDurationSeconds: 6, renewDeadlineMs: 4000, retryPeriodMs: 1000 },
    env: { LOG_LEVEL: 'info' },
    compiled: false,
  });
  const observer = new ChaosObserver(kubeConfig, NS, LIMITS);
  let violations = 0;
  try {
    await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
    log(`creating ${MIGRATIONS} running VMIs on ${NODES} nodes`);
    const indexes = Array.from({ length: MIGRATIONS }, (_, i) => i);
    await pool(indexes, 8, async (i) => {
      const name = `vmi-${i}`;
      await custom.createNamespacedCustomObject({
        ...group,
        plural: 'virtualmachineinstances',
        body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name, annotations: { 'live-migration.io/placement': 'external' } }, spec: { domain: { resources: { requests: { memory: MEMORY } }, devices: {} } } },
      });
      await custom.patchNamespacedCustomObjectStatus({ ...group, plural: 'virtualmachineinstances', name, body: { status: { phase: 'Running', nodeName: nodes[i % NODES]?.name } } }, mergePatch);
    });
    for (;;) {
      const vmis = ((await custom.listNamespacedCustomObject({ ...group, plural: 'virtualmachineinstances' })) as { items: VirtualMachineInstance[] }).items;
      if (vmis.filter((v) => v.status?.conditions?.some((c) => c.type === 'LiveMigratable')).length === MIGRATIONS) break;
      await sleep(500);
    }
    await observer.start();

    const refused = { creates: 0, deletes: 0 };
    const t0 = Date.now();
    const timers: Array<Promise<void>> = [];
    let faultsDone: () => void = () => {};
    const allFaultsDone = new Promise<void>((resolve) => (faultsDone = resolve));
    const creator = (async () => {
      for (let i = 0; i < MIGRATIONS; i++) {
        if (i === MIGRATIONS - TAIL) await allFaultsDone;
        const due = t0 + (i * windowS * 1000) / (MIGRATIONS - TAIL);
        if (i < MIGRATIONS - TAIL && due > Date.now()) await sleep(due - Date.now());
        const body = { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name: `mig-${i}` }, spec: { vmiName: `vmi-${i}` } };
        await persist(`create mig-${i}`, () => custom.createNamespacedCustomObject({ ...group, plural: 'virtualmachineinstancemigrations', body }), () => refused.creates++);
        const cancelAfter = cancels[i];
        if (cancelAfter !== undefined) {
          timers.push(
            sleep(cancelAfter).then(async () => {
              await persist(`delete mig-${i}`, () => custom.deleteNamespacedCustomObject({ ...group, plural: 'virtualmachineinstancemigrations', name: `mig-${i}` }), () => refused.deletes++);
            }),
          );
        }
      }
    })();
    const injector = new FaultInjector(system, control, kubeConfig, log);
    const faults: FaultRecord[] = [];
    for (const fault of plan) {
      await sleep(fault.gapS * 1000);
      faults.push(await injector.inject(fault));
    }
    faultsDone();
    await creator;
    await Promise.all(timers);
    log(`all created and faults injected after ${((Date.now() - t0) / 1000).toFixed(0)} s; draining (≤ ${DRAIN_S} s)`);

    const drainStart = Date.now();
    let items: VirtualMachineInstanceMigration[] = [];
    for (;;) {
      items = ((await custom.listNamespacedCustomObject({ ...group, plural: 'virtualmachineinstancemigrations' })) as { items: VirtualMachineInstanceMigration[] }).items;
      const open = items.filter((m) => !['Succeeded', 'Failed'].includes(m.status?.phase ?? '') || (m.metadata.finalizers ?? []).length > 0);
      if (open.length === 0 || Date.now() - drainStart > DRAIN_S * 1000) break;
      await sleep(2000);
    }
    const drainS = (Date.now() - drainStart) / 1000;
    await sleep(1000); // the observer's last events and order checks
    observer.absorb(items);
    await observer.stop();
    const vmis = ((await custom.listNamespacedCustomObject({ ...group, plural: 'virtualmachineinstances' })) as { items: VirtualMachineInstance[] }).items;
    const agentLog = readdirSync(workDir).filter((f) => f.startsWith('agent')).map((f) => readFileSync(join(workDir, f), 'utf8')).join('\n');

    const report = chaosReport({
      seed: SEED,
      created: MIGRATIONS,
      unseen: indexes
        .filter((i) => ![...observer.seen.values()].some((s) => s.vmim.metadata.name === `mig-${i}`))
        .map((i) => ({ name: `mig-${i}`, cancelled: cancels[i] !== undefined })),
      cancelRequested: cancels.filter((c) => c !== undefined).length,
      refused,
      seen: [...observer.seen.values()],
      vmis,
      agentLog,
      faults,
      order: observer.order,
      livePeak: observer.livePeak,
      limits: LIMITS,
      recoveryBoundS: RECOVERY_BOUND_S,
      drainS,
      endMs: Date.now(),
    });
    violations = report.violationCount;
    const result = {
      benchmark: 'chaos',
      at: new Date().toISOString(),
      command: `CHAOS_SEED=${SEED} npm run bench -- chaos`,
      machine: { cpus: cpus().length, loadavg: loadavg() },
      setup: { migrations: MIGRATIONS, nodes: NODES, reconcilers: 2, memory: MEMORY, bandwidth: '32Mi', limits: LIMITS, cancelRatio: CANCEL_RATIO, rounds: ROUNDS, gapS: [GAP_MIN, GAP_MAX], targetReadyTimeoutS: 30 },
      ...report,
    };
    console.log(JSON.stringify(result, null, 2));
    mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
    const file = join(REPO_ROOT, 'bench/results', `chaos-${result.at.replace(/[:.]/g, '-').slice(0, 19)}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    log(`written to ${file}; ${violations === 0 ? 'every invariant held' : `${violations} invariant(s) broken`}`);
  } catch (error) {
    violations = Math.max(violations, 1);
    throw error;
  } finally {
    await observer.stop().catch(() => undefined);
    await stopLocalSystem(system).catch(() => undefined);
    // Kept for a post-mortem when an invariant broke (or always, with CHAOS_KEEP_LOGS=dir).
    const keep = env.CHAOS_KEEP_LOGS ?? (violations > 0 ? mkdtempSync(join(tmpdir(), 'live-migration-chaos-logs-')) : undefined);
    if (keep) {
      mkdirSync(keep, { recursive: true });
      for (const dir of [workDir, control.workDir]) for (const f of readdirSync(dir).filter((n) => n.endsWith('.log'))) cpSync(join(dir, f), join(keep, f));
      log(`component logs kept in ${keep}`);
    }
    await stopControlPlane(control);
    rmSync(workDir, { recursive: true, force: true });
  }
  if (violations > 0) process.exitCode = 1;
}
