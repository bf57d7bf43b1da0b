// The demo's story steps both demos tell through kubectl: the seed's migration with a live progress
// bar, and a migration the webhook rejects because the VMI is not live-migratable (a ReadWriteOnce
// PVC). simulated.ts and real-hosts.ts set up the nodes and the VMI that moves.
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { describeMigration } from '../../cli/progress.js';
import { KUBECONFIG } from '../local/environment.js';

export const NS = 'demo';
const VMIS = { group: 'kubevirt.io', version: 'v1', namespace: NS, plural: 'virtualmachineinstances' };
const tty = process.stdout.isTTY === true;

export interface Result {
  code: number;
  out: string;
}

export function kubectl(args: string[], input?: string): Result {
  try {
    const out = execFileSync('kubectl', ['--kubeconfig', KUBECONFIG, ...args], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    return { code: 0, out: out.trim() };
  } catch (error) {
    const e = error as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() };
  }
}

export function say(text: string): void {
  console.log(`\n== ${text}`);
}

export function show(command: string, result: { out: string }): void {
  console.log(`$ ${command}\n${result.out}`);
}

export function customApi(): CustomObjectsApi {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(KUBECONFIG);
  return kubeConfig.makeApiClient(CustomObjectsApi);
}

export async function getVmi(custom: CustomObjectsApi, name: string): Promise<VirtualMachineInstance> {
  return (await custom.getNamespacedCustomObject({ ...VMIS, name })) as VirtualMachineInstance;
}

/** Polls until `read` returns a value; fails naming `what` after `ms`. */
export async function waitFor<T>(what: string, read: () => Promise<T | undefined>, ms: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await read().catch(() => undefined);
    if (value !== undefined) return value;
    await sleep(everyMs);
  }
  throw new Error(`${what}: not within ${ms / 1000} s`);
}

/** A VMI someone else runs (KubeVirt's virt-handler, played here): created and reported Running on `node`. */
export async function reportedRunningVmi(custom: CustomObjectsApi, name: string, node: string, spec: Record<string, unknown>, annotations?: Record<string, string>): Promise<void> {
  await custom.deleteNamespacedCustomObject({ ...VMIS, name }).catch(() => undefined);
  await waitFor(`the old ${name} to go`, () => getVmi(custom, name).then(() => undefined, () => true), 60_000);
  await custom.createNamespacedCustomObject({ ...VMIS, body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name, annotations: { ...annotations, 'live-migration.io/placement': 'external' } }, spec } });
  await custom.patchNamespacedCustomObjectStatus({ ...VMIS, name, body: { status: { phase: 'Running', nodeName: node } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
}

/** Until the reconciler has decided LiveMigratable (a migration of an unevaluated VMI waits for it). */
export async function waitEvaluated(custom: CustomObjectsApi, name: string): Promise<VirtualMachineInstance> {
  return waitFor(`${name} evaluated`, async () => {
    const vmi = await getVmi(custom, name);
    return vmi.status?.conditions?.some((c) => c.type === 'LiveMigratable') ? vmi : undefined;
  }, 30_000);
}

/** The seed's VirtualMachineInstanceMigration, for `vmi`. */
export function migrationYaml(name: string, vmi: string): string {
  return `apiVersion: kubevirt.io/v1alpha3
kind: VirtualMachineInstanceMigration
metadata:
  name: ${name}
spec:
  vmiName: ${vmi}
`;
}

/** Applies the migration and draws its progress bar until it ends (one line per change off a terminal). */
export async function migrateWithProgress(custom: CustomObjectsApi, name: string, vmi: string): Promise<VirtualMachineInstanceMigration> {
  show(`kubectl apply -n ${NS} -f ${name}.yaml`, kubectl(['apply', '-n', NS, '-f', '-'], migrationYaml(name, vmi)));
  let last = '';
  for (;;) {
    const vmim = (await custom.getNamespacedCustomObject({ ...VMIS, plural: 'virtualmachineinstancemigrations', name })) as VirtualMachineInstanceMigration;
    const line = describeMigration(vmim);
    if (line !== last) {
      if (tty) process.stdout.write(`\r\x1b[2K${line}`);
      else console.log(line);
      last = line;
    }
    if (vmim.status?.phase === 'Succeeded' || vmim.status?.phase === 'Failed') {
      if (tty) process.stdout.write('\n');
      show(`kubectl get vmim -n ${NS}`, kubectl(['get', 'vmim', '-n', NS]));
      return vmim;
    }
    await sleep(500);
  }
}

/** A VMI on a ReadWriteOnce PVC, reported Running on `node`: the webhook refuses its migration. */
export async function rwoRefusal(custom: CustomObjectsApi, node: string): Promise<Result> {
  say('A VMI on a ReadWriteOnce PVC is not live-migratable: the webhook rejects its migration');
  kubectl(['apply', '-n', NS, '-f', '-'], 'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data-rwo}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n');
  await reportedRunningVmi(custom, 'vmi-rwo', node, {
    domain: { resources: { requests: { memory: '1Gi' } }, devices: {} },
    volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data-rwo' } }],
  });
  await waitEvaluated(custom, 'vmi-rwo');
  const rejected = kubectl(['apply', '-n', NS, '-f', '-'], migrationYaml('migration-rwo', 'vmi-rwo'));
  show(`kubectl apply -n ${NS} -f migration-rwo.yaml`, rejected);
  return rejected;
}

/** The namespace, emptied of an earlier run's migrations (the environment may be reused). */
export function freshNamespace(): void {
  kubectl(['create', 'namespace', NS]);
  kubectl(['delete', 'vmim', '--all', '-n', NS, '--wait=true']);
}

export function closing(extra: string[] = []): void {
  say('Done. The system keeps running:');
  console.log(`export KUBECONFIG=${KUBECONFIG}`);
  for (const line of extra) console.log(line);
  console.log(`kubectl get vmim,vmi -n ${NS}; kubectl describe vmim migration-job -n ${NS}`);
  console.log('Stop everything with: hack/dev down   (or npm run local -- down)');
}
