// `npm run demo`: the whole system on a local control plane, then the seed's story told through
// kubectl — a migration with live progress, and one the webhook rejects with its reason.
// The demo plays KubeVirt's virt-handler for its VMIs: it creates them and reports them Running on
// a simulated node (no hypervisor here; the simulation driver moves their memory).
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { VirtualMachineInstance } from '../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../api/schemas/vmim.js';
import { describeMigration } from '../cli/progress.js';
import { KUBECONFIG, upLocalEnvironment } from './local/environment.js';

const NS = 'demo';
const tty = process.stdout.isTTY === true;

function kubectl(args: string[], input?: string): { code: number; out: string } {
  try {
    const out = execFileSync('kubectl', ['--kubeconfig', KUBECONFIG, ...args], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    return { code: 0, out: out.trim() };
  } catch (error) {
    const e = error as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() };
  }
}

function say(text: string): void {
  console.log(`\n== ${text}`);
}

function show(command: string, result: { out: string }): void {
  console.log(`$ ${command}\n${result.out}`);
}

async function runningVmi(custom: CustomObjectsApi, name: string, node: string, spec: Record<string, unknown>, annotations?: Record<string, string>): Promise<void> {
  const group = { group: 'kubevirt.io', version: 'v1', namespace: NS, plural: 'virtualmachineinstances' };
  await custom.deleteNamespacedCustomObject({ ...group, name }).catch(() => undefined);
  await custom.createNamespacedCustomObject({ ...group, body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name, annotations: { ...annotations, 'live-migration.io/placement': 'external' } }, spec } });
  await custom.patchNamespacedCustomObjectStatus({ ...group, name, body: { status: { phase: 'Running', nodeName: node } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
}

async function waitFor<T>(read: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await read().catch(() => undefined);
    if (value !== undefined) return value;
    await sleep(200);
  }
  throw new Error('timed out');
}

const started = Date.now();
say('Starting the local control plane, the webhook, the reconciler and 3 simulated nodes');
const { env, reused } = await upLocalEnvironment({ nodes: 3 });
console.log(reused ? 'Already running; reusing it.' : `Up in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
show('kubectl get nodes', kubectl(['get', 'nodes']));

const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(KUBECONFIG);
const custom = kubeConfig.makeApiClient(CustomObjectsApi);
kubectl(['create', 'namespace', NS]);
kubectl(['delete', 'vmim', '--all', '-n', NS, '--wait=true']);

const source = env.system?.options.nodes[0]?.name ?? 'node-01';
say(`A VMI with 1 GiB of memory and a containerDisk runs on ${source} (the demo reports it Running)`);
await runningVmi(
  custom,
  'vmi-fedora',
  source,
  { domain: { resources: { requests: { memory: '1Gi' } }, devices: {} }, volumes: [{ name: 'root', containerDisk: { image: 'quay.io/containerdisks/fedora' } }] },
  { 'simulation.live-migration.io/dirty-rate': '8Mi' },
);
await waitFor(async () => {
  const vmi = (await custom.getNamespacedCustomObject({ group: 'kubevirt.io', version: 'v1', namespace: NS, plural: 'virtualmachineinstances', name: 'vmi-fedora' })) as VirtualMachineInstance;
  return vmi.status?.conditions?.some((c) => c.type === 'LiveMigratable') ? vmi : undefined;
}, 20_000);
show(`kubectl get vmi -n ${NS}`, kubectl(['get', 'vmi', '-n', NS]));

say("Migrating it with the seed's VirtualMachineInstanceMigration (64Mi/s cap from kubevirt-config)");
const seed = `apiVersion: kubevirt.io/v1alpha3
kind: VirtualMachineInstanceMigration
metadata:
  name: migration-job
spec:
  vmiName: vmi-fedora
`;
show(`kubectl apply -n ${NS} -f migration-job.yaml`, kubectl(['apply', '-n', NS, '-f', '-'], seed));
let last = '';
let final: VirtualMachineInstanceMigration | undefined;
while (!final) {
  const vmim = (await custom.getNamespacedCustomObject({ group: 'kubevirt.io', version: 'v1', namespace: NS, plural: 'virtualmachineinstancemigrations', name: 'migration-job' })) as VirtualMachineInstanceMigration;
  const line = describeMigration(vmim);
  if (line !== last) {
    if (tty) process.stdout.write(`\r\x1b[2K${line}`);
    else console.log(line);
    last = line;
  }
  if (vmim.status?.phase === 'Succeeded' || vmim.status?.phase === 'Failed') final = vmim;
  else await sleep(500);
}
if (tty) process.stdout.write('\n');
show(`kubectl get vmim -n ${NS}`, kubectl(['get', 'vmim', '-n', NS]));
show(`kubectl get vmi -n ${NS}`, kubectl(['get', 'vmi', '-n', NS]));

say('A VMI on a ReadWriteOnce PVC is not live-migratable: the webhook rejects its migration');
kubectl(['apply', '-n', NS, '-f', '-'], 'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data-rwo}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n');
await runningVmi(custom, 'vmi-rwo', source, {
  domain: { resources: { requests: { memory: '1Gi' } }, devices: {} },
  volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data-rwo' } }],
});
await waitFor(async () => {
  const vmi = (await custom.getNamespacedCustomObject({ group: 'kubevirt.io', version: 'v1', namespace: NS, plural: 'virtualmachineinstances', name: 'vmi-rwo' })) as VirtualMachineInstance;
  return vmi.status?.conditions?.some((c) => c.type === 'LiveMigratable') ? vmi : undefined;
}, 20_000);
const rejected = kubectl(['apply', '-n', NS, '-f', '-'], seed.replace('migration-job', 'migration-rwo').replace('vmiName: vmi-fedora', 'vmiName: vmi-rwo'));
show(`kubectl apply -n ${NS} -f migration-rwo.yaml`, rejected);

say('Done. The system keeps running:');
console.log(`export KUBECONFIG=${KUBECONFIG}`);
console.log(`kubectl get vmim,vmi -n ${NS}; kubectl describe vmim migration-job -n ${NS}`);
console.log('Stop everything with: npm run local -- down   (or hack/dev down)');
process.exit(final.status?.phase === 'Succeeded' && rejected.code !== 0 ? 0 : 1);
