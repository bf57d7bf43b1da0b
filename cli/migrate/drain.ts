// `kubectl migrate drain NODE [--wait] [--cancel] [--taint-key KEY]`: node maintenance.
// Drain cordons the node and puts the drain taint on it (KEY=draining:NoSchedule, KubeVirt's
// kubevirt.io/drain by default; it must match kubevirt-config migrations.nodeDrainTaintKey), which
// starts the reconciler's evacuation. --wait follows every VMI until the node holds none (exit 0),
// or until only VMIs that cannot leave remain (exit 1, naming them). --cancel removes the taint and
// the cordon: evacuations not yet started are cancelled, running ones finish.
import { ApiException, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Taint } from '@kubernetes/client-node';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { drainView } from './drain-view.js';
import type { Io } from './main.js';

export interface DrainCommand {
  node: string;
  wait: boolean;
  cancel: boolean;
  taintKey: string;
}

/** The API calls drain makes (a seam; the tests use the real API server). */
export interface DrainApi {
  taints(node: string): Promise<V1Taint[] | undefined>;
  patchNode(node: string, spec: { unschedulable: boolean; taints: V1Taint[] }): Promise<void>;
  vmis(): Promise<VirtualMachineInstance[]>;
  migrations(): Promise<VirtualMachineInstanceMigration[]>;
}

const POLL_MS = 500;

export function kubeDrainApi(kubeConfig: KubeConfig): DrainApi {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const list = async <T>(plural: string) => ((await custom.listClusterCustomObject({ group: 'kubevirt.io', version: 'v1', plural })) as { items: T[] }).items;
  return {
    async taints(node) {
      try {
        return (await core.readNode({ name: node })).spec?.taints ?? [];
      } catch (error) {
        if (error instanceof ApiException && error.code === 404) return undefined;
        throw error;
      }
    },
    async patchNode(node, spec) {
      await core.patchNode({ name: node, body: { spec } }, mergePatch);
    },
    vmis: () => list<VirtualMachineInstance>('virtualmachineinstances'),
    migrations: () => list<VirtualMachineInstanceMigration>('virtualmachineinstancemigrations'),
  };
}

export async function runDrain(command: DrainCommand, api: DrainApi, io: Io): Promise<number> {
  const taints = await api.taints(command.node);
  if (taints === undefined) {
    io.stderr.write(`Error from server (NotFound): nodes "${command.node}" not found\n`);
    return 1;
  }
  const others = taints.filter((t) => t.key !== command.taintKey);
  if (command.cancel) {
    await api.patchNode(command.node, { unschedulable: false, taints: others });
    io.stdout.write(`node/${command.node} uncordoned, taint ${command.taintKey} removed: evacuations not started are cancelled, running ones finish\n`);
    return 0;
  }
  await api.patchNode(command.node, { unschedulable: true, taints: [...others, { key: command.taintKey, value: 'draining', effect: 'NoSchedule' }] });
  io.stdout.write(`node/${command.node} cordoned and tainted ${command.taintKey}=draining:NoSchedule: its VMIs are being evacuated\n`);
  if (!command.wait) return 0;
  return follow(command.node, api, io);
}

async function follow(node: string, api: DrainApi, io: Io): Promise<number> {
  const live = io.stdout.isTTY === true;
  let previous = '';
  let previousLines = 0;
  for (;;) {
    const [vmis, vmims] = await Promise.all([api.vmis(), api.migrations()]);
    const view = drainView(node, vmis, vmims);
    if (live) {
      io.stdout.write(`${previousLines > 0 ? `\x1b[${previousLines}F\x1b[J` : ''}${view.text}`);
      previousLines = view.text.split('\n').length - 1;
    } else if (view.text !== previous) {
      io.stdout.write(view.text);
    }
    previous = view.text;
    if (view.empty) {
      io.stdout.write(`node/${node} drained: it holds no VMI\n`);
      return 0;
    }
    if (view.stuck) {
      io.stderr.write(`error: ${view.stuck.length} VMI${view.stuck.length === 1 ? '' : 's'} cannot leave ${node}:\n${view.stuck.map((s) => `  ${s}\n`).join('')}`);
      return 1;
    }
    await io.sleep(POLL_MS);
  }
}
