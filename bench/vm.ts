// Benchmark of the VM lifecycle on a real hypervisor (`npm run bench -- vm`): the whole system (API
// server, webhook, reconciler, one libvirt agent per test host) runs BENCH_VMS (default 10) VMIs of
// the test guest (128 MiB, TCG, direct kernel boot), applied at once, as a user would.
//
// Measured per VMI, all from the API server's own stamps where it has them:
// - created → Running: metadata.creationTimestamp (1 s precision, so also from our clock at the
//   create call) to the Running phaseTransitionTimestamp;
// - created → Ready: to the Ready condition's lastTransitionTime (Ready is set with Running);
// - created → first heartbeat on the guest's console (the guest really runs: booted under TCG);
// - placement: how many VMIs each host got.
// Then every VMI is deleted and the time until it is gone (ACPI ignored by the test guest, so a
// destroy after its 2 s grace) is measured. Last, a guest rewriting its memory is migrated beside
// an idle one (bench/vm-write-load.ts), against the physical bound of the cap.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { REPO_ROOT } from '../api/generated-files.js';
import type { VirtualMachineInstance } from '../api/schemas/vmi.js';
import { startControlPlane, stopControlPlane } from '../hack/control-plane/control-plane.js';
import { startLocalSystem, stopLocalSystem, type LocalSystemState } from '../hack/system/local-system.js';
import { measureWriteLoad } from './vm-write-load.js';
import { guestImage, guestVmi, heartbeats, libvirtAgentArgs, readConsole, startTestHosts, type TestHost, type TestHosts } from '../test/hosts/index.js';

const NS = 'bench-vm';
const VMS = Number(process.env.BENCH_VMS ?? 10);
const VMI_GROUP = { group: 'kubevirt.io', version: 'v1', namespace: NS, plural: 'virtualmachineinstances' };

function log(message: string): void {
  process.stderr.write(`[bench vm] ${message}\n`);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

const stats = (values: number[]) => ({ p50: Math.round(percentile(values, 50)), p99: Math.round(percentile(values, 99)), max: Math.round(Math.max(...values)), n: values.length });

export async function main(): Promise<void> {
  const image = guestImage();
  const resultsDir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const workDir = mkdtempSync(join(tmpdir(), 'live-migration-bench-vm-'));
  const cp = await startControlPlane();
  let hosts: TestHosts | undefined;
  let system: LocalSystemState | undefined;
  try {
    hosts = await startTestHosts({ hosts: ['a', 'b'] });
    const byNode: Record<string, TestHost> = { 'bench-a': hosts.get('a'), 'bench-b': hosts.get('b') };
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cp.kubeconfig);
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
    system = await startLocalSystem({
      kubeconfig: cp.kubeconfig,
      workDir,
      namespace: 'live-migration',
      watchNamespace: NS,
      configLocation: { namespace: NS, name: 'kubevirt-config' },
      configData: { 'feature-gates': 'LiveMigration' },
      nodes: Object.keys(byNode).map((name) => ({ name, labels: { 'live-migration.io/simulated': 'false' } })),
      webhook: { suffix: 'bench-vm', namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NS } } },
      agents: Object.entries(byNode).map(([node, host]) => ({
        nodes: [node],
        driver: 'libvirt' as const,
        extraArgs: [
          ...libvirtAgentArgs(host, join(workDir, `state-${host.name}`)),
          '--domain-type=qemu',
          '--guest-memory=2Gi',
          `--console-read-dir=${join(host.dir, 'log', 'qemu')}`,
        ],
      })),
    });
    log(`system up; applying ${VMS} VMIs`);
    const created = new Map<string, number>();
    await Promise.all(
      Array.from({ length: VMS }, async (_, i) => {
        const name = `vm-${i}`;
        created.set(name, Date.now());
        await custom.createNamespacedCustomObject({
          ...VMI_GROUP,
          body: guestVmi(name, { namespace: NS, image, grace: 2 }),
        });
      }),
    );
    const running = new Map<string, number>();
    const ready = new Map<string, number>();
    const firstBeat = new Map<string, number>();
    const placed: Record<string, number> = {};
    const deadline = Date.now() + 600_000;
    while (firstBeat.size < VMS && Date.now() < deadline) {
      const list = (await custom.listNamespacedCustomObject(VMI_GROUP)) as { items: VirtualMachineInstance[] };
      for (const vmi of list.items) {
        const name = vmi.metadata.name ?? '';
        const stamps = (vmi.status?.phaseTransitionTimestamps as Array<{ phase: string; phaseTransitionTimestamp: string }> | undefined) ?? [];
        const runningAt = stamps.find((s) => s.phase === 'Running')?.phaseTransitionTimestamp;
        if (runningAt && !running.has(name)) {
          running.set(name, Date.parse(runningAt));
          placed[vmi.status?.nodeName ?? '?'] = (placed[vmi.status?.nodeName ?? '?'] ?? 0) + 1;
        }
        const readyAt = vmi.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True')?.lastTransitionTime;
        if (readyAt && !ready.has(name)) ready.set(name, Date.parse(readyAt));
        const host = byNode[vmi.status?.nodeName ?? ''];
        if (host && !firstBeat.has(name) && heartbeats(readConsole(host, `${NS}_${name}`)).length > 0) firstBeat.set(name, Date.now());
      }
      await sleep(100);
    }
    const since = (m: Map<string, number>) => [...m].map(([name, at]) => at - (created.get(name) ?? at));
    log(`running ${running.size}, ready ${ready.size}, counting ${firstBeat.size} of ${VMS}`);

    const deleteStarted = Date.now();
    await Promise.all([...created.keys()].map((name) => custom.deleteNamespacedCustomObject({ ...VMI_GROUP, name })));
    const gone = new Map<string, number>();
    while (gone.size < VMS && Date.now() < deadline + 120_000) {
      const list = (await custom.listNamespacedCustomObject(VMI_GROUP)) as { items: VirtualMachineInstance[] };
      const left = new Set(list.items.map((v) => v.metadata.name ?? ''));
      for (const name of created.keys()) if (!left.has(name) && !gone.has(name)) gone.set(name, Date.now() - deleteStarted);
      await sleep(100);
    }
    const writeLoad = await measureWriteLoad({ custom, namespace: NS, byNode, image, log });
    const report = {
      benchmark: 'vm',
      date: new Date().toISOString(),
      vms: VMS,
      guest: '128 MiB, TCG, direct kernel boot (test/hosts guest)',
      placed,
      createdToRunningMs: stats(since(running)),
      createdToReadyMs: stats(since(ready)),
      createdToFirstHeartbeatMs: stats(since(firstBeat)),
      deleteToGoneMs: stats([...gone.values()]),
      migrationUnderWriteLoad: writeLoad,
      note: 'Running and Ready are written together once the domain runs; the first heartbeat is when the guest has booted (TCG on a shared 2-core machine).',
      machine: { cpus: cpus().length, loadavg: loadavg().map((v) => Math.round(v * 10) / 10) },
    };
    console.log(JSON.stringify(report, null, 2));
    const file = join(resultsDir, `vm-${report.date.slice(0, 19).replace(/:/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    log(`written ${file}`);
  } finally {
    if (system) await stopLocalSystem(system).catch((error: unknown) => log(`stopping the system: ${String(error)}`));
    await hosts?.stop();
    await stopControlPlane(cp);
    rmSync(workDir, { recursive: true, force: true });
  }
}
