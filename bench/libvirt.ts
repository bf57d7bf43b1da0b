// Benchmark of migrations on a real hypervisor (`npm run bench -- libvirt`): the whole system (API
// server, webhook, reconciler, one libvirt agent per test host) moves an idle guest with 256 MiB of
// filled memory (384 MiB RAM, TCG) between the two test hosts of test/hosts/.
//
// Measured per migration, from libvirt's own clock where it has one:
// - libvirt job start: the first `domjobinfo --rawstats` showing the outgoing job, minus its
//   time_elapsed (libvirt counts from the job's start); polled every 50 ms after the VMIM is created;
// - libvirt job end: the source's `lifecycle: Stopped Migrated` event (`virsh event --timestamp`);
// - data: data_processed of the source's `job-completed` event; the physical bound is data ÷ cap;
// - Succeeded: the VMIM's phaseTransitionTimestamps (ms precision);
// - control-plane overhead = (VMIM created → job start) + (job end → Succeeded).
// Abort latency: the VMIM of a migration at 8 MiB/s is deleted mid-copy; measured until the source
// has no job, its domain runs, and the target has no domain (polled every 50 ms).
// TLS and plain side by side: every round runs capped and uncapped once with the migration stream
// over TLS (the default) and once with kubevirt-config's disableTLS (the ConfigMap patched between
// them); each plain run must carry its MigrationNotEncrypted event and no TLS run one, or the
// benchmark stops. Summary: TLS ÷ plain for the capped job time and the uncapped throughput.
// Goals (issue 5): capped ≤ 1.15 × bound; overhead p50 ≤ 1 s; abort ≤ 2 s.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { REPO_ROOT } from '../api/generated-files.js';
import type { VirtualMachineInstanceMigration } from '../api/schemas/vmim.js';
import { parseJobStats } from '../agent/libvirt/parse.js';
import { startControlPlane, stopControlPlane } from '../hack/control-plane/control-plane.js';
import { startLocalSystem, stopLocalSystem, type LocalSystemState } from '../hack/system/local-system.js';
import { defineGuest, domainState, guestImage, libvirtAgentArgs, listDomains, startGuest, startTestHosts, virsh, waitForHeartbeat, type TestHost, type TestHosts } from '../test/hosts/index.js';

const NS = 'bench-libvirt';
const VMI = 'idle';
const DOMAIN = `${NS}_${VMI}`;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CAP = '32Mi';
const CAP_BPS = 32 * 2 ** 20;
const ABORT_CAP = '8Mi';
const MIB = 2 ** 20;
const GROUP = { group: 'kubevirt.io', version: 'v1' };
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function log(message: string): void {
  process.stderr.write(`[bench libvirt] ${message}\n`);
}

/** Source-side libvirt events of one host, with libvirt's timestamps. */
class EventLog {
  private readonly child: ChildProcess;
  private buffer = '';
  readonly stopped: Array<{ domain: string; atMs: number }> = [];
  readonly completed: Array<{ domain: string; atMs: number; fields: Record<string, number> }> = [];
  private pending: { domain: string; atMs: number; fields: Record<string, number> } | undefined;

  constructor(host: TestHost) {
    this.child = spawn('virsh', ['-c', host.uri, 'event', '--all', '--loop', '--timestamp'], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, LC_ALL: 'C' } });
    this.child.stdout?.setEncoding('utf8');
    this.child.stdout?.on('data', (chunk: string) => {
      this.buffer += chunk;
      const lines = this.buffer.split('\n');
      this.buffer = lines.pop() ?? '';
      for (const line of lines) this.line(line);
    });
  }

  private line(line: string): void {
    const head = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\+0000: event '([a-z-]+)' for domain '([^']+)'(.*)$/.exec(line);
    if (head) {
      this.flush();
      const atMs = Date.parse(`${head[1]?.replace(' ', 'T')}Z`);
      const [kind, domain, rest] = [head[2], head[3] ?? '', head[4] ?? ''];
      if (kind === 'lifecycle' && /Stopped Migrated/.test(rest)) this.stopped.push({ domain, atMs });
      if (kind === 'job-completed') this.pending = { domain, atMs, fields: {} };
      return;
    }
    const field = /^\t([a-z_]+): (\d+)$/.exec(line);
    if (field && this.pending) this.pending.fields[field[1] ?? ''] = Number(field[2]);
  }

  private flush(): void {
    if (this.pending) this.completed.push(this.pending);
    this.pending = undefined;
  }

  /** The first job end / completion stats after `afterMs`. */
  async jobEnd(afterMs: number, timeoutMs = 30_000): Promise<{ endMs: number; fields: Record<string, number> }> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      this.flush();
      const stop = this.stopped.find((e) => e.domain === DOMAIN && e.atMs > afterMs);
      const done = this.completed.find((e) => e.domain === DOMAIN && e.atMs > afterMs && e.fields.operation === 5);
      if (stop && done) return { endMs: stop.atMs, fields: done.fields };
      await sleep(50);
    }
    throw new Error('no Stopped Migrated / job-completed event from the source');
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

/** Polls the source every 50 ms until its outgoing job shows; returns libvirt's job start time. */
async function jobStart(source: TestHost, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const before = Date.now();
    const text = await virsh(source, ['domjobinfo', '--rawstats', DOMAIN]).catch(() => '');
    const after = Date.now();
    if (text) {
      const stats = parseJobStats(text);
      const elapsed = stats.fields.time_elapsed;
      if (stats.type === 'Unbounded' && stats.operation === 5 && elapsed !== undefined) return (before + after) / 2 - elapsed;
    }
    await sleep(50);
  }
  throw new Error('the libvirt job never showed on the source');
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

const round1 = (n: number) => Math.round(n * 10) / 10;
const round3 = (n: number) => Math.round(n * 1000) / 1000;

interface MigrationRun {
  mode: 'capped' | 'uncapped';
  stream: 'tls' | 'plain';
  from: string;
  to: string;
  dataBytes: number;
  /** libvirt job start → job end. */
  jobSeconds: number;
  /** data ÷ cap (capped only). */
  boundSeconds: number | null;
  jobOverBound: number | null;
  /** VMIM created → Succeeded. */
  vmimSeconds: number;
  vmimOverBound: number | null;
  createdToJobStartMs: number;
  jobEndToSucceededMs: number;
  overheadMs: number;
  downtimeMs: number;
}

export async function main(): Promise<void> {
  guestImage();
  const resultsDir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const workDir = mkdtempSync(join(tmpdir(), 'live-migration-bench-libvirt-'));
  log('starting a local control plane and two test hosts');
  const cp = await startControlPlane();
  let hosts: TestHosts | undefined;
  let system: LocalSystemState | undefined;
  const events: EventLog[] = [];
  try {
    hosts = await startTestHosts({ hosts: ['a', 'b'] });
    const byNode: Record<string, TestHost> = { 'bench-a': hosts.get('a'), 'bench-b': hosts.get('b') };
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cp.kubeconfig);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    system = await startLocalSystem({
      kubeconfig: cp.kubeconfig,
      workDir,
      namespace: 'live-migration',
      watchNamespace: NS,
      configLocation: { namespace: NS, name: 'kubevirt-config' },
      configData: { 'feature-gates': 'LiveMigration', migrations: `bandwidthPerMigration: ${CAP}` },
      nodes: Object.keys(byNode).map((name) => ({ name, labels: { 'live-migration.io/simulated': 'false' } })),
      webhook: { suffix: 'bench-libvirt', namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NS } } },
      agents: Object.entries(byNode).map(([node, host]) => ({
        nodes: [node],
        driver: 'libvirt' as const,
        extraArgs: [
          ...libvirtAgentArgs(host, join(workDir, `state-${host.name}`)),
        ],
      })),
    });
    log('system up; booting the guest');

    const a = byNode['bench-a'] as TestHost;
    await startGuest(a, await defineGuest(a, { name: DOMAIN, memoryMiB: 384, fillMiB: 256 }));
    await waitForHeartbeat(a, DOMAIN, 0, 120_000);
    await custom.createNamespacedCustomObject({
      ...GROUP,
      namespace: NS,
      plural: 'virtualmachineinstances',
      body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: VMI, annotations: { 'live-migration.io/placement': 'external' } }, spec: { domain: { resources: { requests: { memory: '384Mi' } }, devices: {} } } },
    });
    await custom.patchNamespacedCustomObjectStatus(
      { ...GROUP, namespace: NS, plural: 'virtualmachineinstances', name: VMI, body: { status: { phase: 'Running', nodeName: 'bench-a' } } },
      mergePatch,
    );
    for (const host of Object.values(byNode)) events.push(new EventLog(host));
    const eventsOf = (host: TestHost) => events[host.name === 'a' ? 0 : 1] as EventLog;
    await sleep(1_000);

    let current = 'bench-a';
    let seq = 0;
    const getVmim = async (name: string) =>
      (await custom.getNamespacedCustomObject({ ...GROUP, namespace: NS, plural: 'virtualmachineinstancemigrations', name }).catch(() => undefined)) as
        | VirtualMachineInstanceMigration
        | undefined;
    const createVmim = (name: string, bandwidth: string) =>
      custom.createNamespacedCustomObject({
        ...GROUP,
        namespace: NS,
        plural: 'virtualmachineinstancemigrations',
        body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name }, spec: { vmiName: VMI, migrationConfiguration: { bandwidthPerMigration: bandwidth } } },
      });
    const waitFinal = async (name: string): Promise<VirtualMachineInstanceMigration> => {
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        const vmim = await getVmim(name);
        if (vmim?.status?.phase === 'Succeeded' || vmim?.status?.phase === 'Failed') return vmim;
        await sleep(100);
      }
      throw new Error(`${name} did not finish`);
    };

    const setStream = (stream: 'tls' | 'plain') =>
      core.patchNamespacedConfigMap(
        { name: 'kubevirt-config', namespace: NS, body: { data: { migrations: `bandwidthPerMigration: ${CAP}${stream === 'plain' ? '\ndisableTLS: true' : ''}` } } },
        mergePatch,
      );
    const notEncrypted = async (name: string) =>
      (await core.listNamespacedEvent({ namespace: NS })).items.some((e) => e.involvedObject.name === name && e.reason === 'MigrationNotEncrypted');

    const runs: MigrationRun[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const stream of ['tls', 'plain'] as const) {
        await setStream(stream);
        await sleep(500); // the reconciler's ConfigMap watch; each run's events are checked below
        for (const mode of ['capped', 'uncapped'] as const) {
          const from = current;
          const to = from === 'bench-a' ? 'bench-b' : 'bench-a';
          const source = byNode[from] as TestHost;
          const name = `m-${++seq}`;
          const createdMs = Date.now();
          await createVmim(name, mode === 'capped' ? CAP : '0');
          const startMs = await jobStart(source);
          const end = await eventsOf(source).jobEnd(createdMs);
          const vmim = await waitFinal(name);
          if (vmim.status?.phase !== 'Succeeded') throw new Error(`${name}: ${vmim.status?.phase} ${vmim.status?.migrationState?.failureReason ?? ''}`);
          if ((await notEncrypted(name)) !== (stream === 'plain')) throw new Error(`${name}: meant to run ${stream}, but its MigrationNotEncrypted event says otherwise`);
          const succeededMs = Date.parse(vmim.status.phaseTransitionTimestamps?.find((p) => p.phase === 'Succeeded')?.phaseTransitionTimestamp ?? '');
          current = to;
          const data = end.fields.data_processed ?? 0;
          const bound = mode === 'capped' ? data / CAP_BPS : null;
          const jobSeconds = (end.endMs - startMs) / 1000;
          const vmimSeconds = (succeededMs - createdMs) / 1000;
          const run: MigrationRun = {
            mode,
            stream,
            from,
            to,
            dataBytes: data,
            jobSeconds: round3(jobSeconds),
            boundSeconds: bound === null ? null : round3(bound),
            jobOverBound: bound === null ? null : round3(jobSeconds / bound),
            vmimSeconds: round3(vmimSeconds),
            vmimOverBound: bound === null ? null : round3(vmimSeconds / bound),
            createdToJobStartMs: Math.round(startMs - createdMs),
            jobEndToSucceededMs: Math.round(succeededMs - end.endMs),
            overheadMs: Math.round(startMs - createdMs + (succeededMs - end.endMs)),
            downtimeMs: end.fields.downtime ?? 0,
          };
          runs.push(run);
          log(
            `${name} ${mode} ${stream} ${from}→${to}: ${round1(data / MIB)} MiB, job ${run.jobSeconds}s` +
              (bound === null ? '' : ` (bound ${run.boundSeconds}s, ×${run.jobOverBound})`) +
              `, VMIM ${run.vmimSeconds}s, overhead ${run.createdToJobStartMs}+${run.jobEndToSucceededMs} ms, downtime ${run.downtimeMs} ms`,
          );
          await sleep(500);
        }
      }
    }
    await setStream('tls');

    const aborts: Array<{ from: string; abortMs: number; vmimGoneMs: number }> = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const from = current;
      const source = byNode[from] as TestHost;
      const target = byNode[from === 'bench-a' ? 'bench-b' : 'bench-a'] as TestHost;
      const name = `abort-${round}`;
      await createVmim(name, ABORT_CAP);
      const deadline = Date.now() + 60_000;
      for (;;) {
        const vmim = await getVmim(name);
        if (vmim?.status?.phase === 'Running' && (vmim.status.progress?.dataProcessedBytes ?? 0) > 8 * MIB) break;
        if (Date.now() > deadline) throw new Error(`${name} did not start copying`);
        await sleep(100);
      }
      const t0 = Date.now();
      await custom.deleteNamespacedCustomObject({ ...GROUP, namespace: NS, plural: 'virtualmachineinstancemigrations', name });
      let abortMs = NaN;
      let vmimGoneMs = NaN;
      while (Date.now() - t0 < 30_000 && (Number.isNaN(abortMs) || Number.isNaN(vmimGoneMs))) {
        if (Number.isNaN(abortMs)) {
          const [job, state, onTarget] = await Promise.all([
            virsh(source, ['domjobinfo', '--rawstats', DOMAIN]).then(parseJobStats),
            domainState(source, DOMAIN),
            listDomains(target),
          ]);
          if (job.type === 'None' && state === 'running' && !onTarget.includes(DOMAIN)) abortMs = Date.now() - t0;
        }
        if (Number.isNaN(vmimGoneMs) && (await getVmim(name)) === undefined) vmimGoneMs = Date.now() - t0;
        await sleep(50);
      }
      if (Number.isNaN(abortMs)) throw new Error(`${name}: the source did not end up running alone`);
      aborts.push({ from, abortMs, vmimGoneMs });
      log(`${name} on ${from}: source running alone, job gone after ${abortMs} ms; VMIM gone after ${vmimGoneMs} ms`);
      await sleep(1_000);
    }

    const capped = runs.filter((r) => r.mode === 'capped' && r.stream === 'tls');
    const uncapped = runs.filter((r) => r.mode === 'uncapped' && r.stream === 'tls');
    const of = (mode: string, stream: string) => runs.filter((r) => r.mode === mode && r.stream === stream);
    const cappedJob = (stream: string) => percentile(of('capped', stream).map((r) => r.jobSeconds), 50);
    const uncappedMiBps = (stream: string) => percentile(of('uncapped', stream).map((r) => r.dataBytes / MIB / r.jobSeconds), 50);
    const summary = {
      tlsVsPlain: {
        cappedJobSecondsP50: { tls: cappedJob('tls'), plain: cappedJob('plain'), tlsOverPlain: round3(cappedJob('tls') / cappedJob('plain')) },
        cappedJobOverBoundP50: { tls: percentile(of('capped', 'tls').map((r) => r.jobOverBound ?? NaN), 50), plain: percentile(of('capped', 'plain').map((r) => r.jobOverBound ?? NaN), 50) },
        uncappedMiBpsP50: { tls: round1(uncappedMiBps('tls')), plain: round1(uncappedMiBps('plain')), tlsOverPlain: round3(uncappedMiBps('tls') / uncappedMiBps('plain')) },
        downtimeMsP50: { tls: percentile(runs.filter((r) => r.stream === 'tls').map((r) => r.downtimeMs), 50), plain: percentile(runs.filter((r) => r.stream === 'plain').map((r) => r.downtimeMs), 50) },
      },
      capped: {
        jobSecondsP50: percentile(capped.map((r) => r.jobSeconds), 50),
        boundSecondsP50: percentile(capped.map((r) => r.boundSeconds ?? NaN), 50),
        jobOverBoundP50: percentile(capped.map((r) => r.jobOverBound ?? NaN), 50),
        vmimOverBoundP50: percentile(capped.map((r) => r.vmimOverBound ?? NaN), 50),
        goal: 'job ≤ 1.15 × bound',
      },
      uncapped: {
        jobSecondsP50: percentile(uncapped.map((r) => r.jobSeconds), 50),
        vmimSecondsP50: percentile(uncapped.map((r) => r.vmimSeconds), 50),
        effectiveMiBpsP50: round1(percentile(uncapped.map((r) => r.dataBytes / MIB / r.jobSeconds), 50)),
      },
      overhead: {
        createdToJobStartMsP50: percentile(runs.map((r) => r.createdToJobStartMs), 50),
        jobEndToSucceededMsP50: percentile(runs.map((r) => r.jobEndToSucceededMs), 50),
        totalMsP50: percentile(runs.map((r) => r.overheadMs), 50),
        goal: 'p50 ≤ 1000 ms',
      },
      abort: { msP50: percentile(aborts.map((r) => r.abortMs), 50), msMax: Math.max(...aborts.map((r) => r.abortMs)), goal: '≤ 2000 ms' },
    };
    const report = {
      benchmark: 'libvirt',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, loadavg: loadavg().map(round1) },
      guest: { memoryMiB: 384, filledMiB: 256, accelerator: 'TCG', cap: CAP, abortCap: ABORT_CAP },
      rounds: ROUNDS,
      runs,
      aborts,
      summary,
    };
    console.table(runs);
    console.table(aborts);
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    const file = join(resultsDir, `libvirt-${report.date.slice(0, 19).replace(/:/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    log(`written ${file}`);
  } finally {
    for (const e of events) e.stop();
    if (system) await stopLocalSystem(system).catch((error: unknown) => log(`stopping the system: ${String(error)}`));
    await hosts?.stop();
    await stopControlPlane(cp);
    rmSync(workDir, { recursive: true, force: true });
  }
}
