// The nodes each VMI of a test namespace has been on, in order, as a watch delivers its versions:
// a VMI moved twice by one migration shows three entries where a poll might see two.
import { Watch } from '@kubernetes/client-node';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import type { TestSystem } from './system.js';

export interface VmiRecorder {
  /** status.nodeName of `name` as it changed, oldest first (one entry per distinct consecutive node). */
  nodesOf(name: string): string[];
  stop(): void;
}

export async function recordVmis(system: TestSystem): Promise<VmiRecorder> {
  const nodes = new Map<string, string[]>();
  let failure: unknown;
  const watch = new Watch(system.kubeConfig);
  const controller = await watch.watch(
    `/apis/kubevirt.io/v1/namespaces/${system.ns}/virtualmachineinstances`,
    {},
    (_type: string, object: VirtualMachineInstance) => {
      const name = object.metadata?.name ?? '';
      const node = object.status?.nodeName;
      const seen = nodes.get(name) ?? [];
      if (node && seen[seen.length - 1] !== node) nodes.set(name, [...seen, node]);
    },
    (error: unknown) => {
      if (error) failure = error;
    },
  );
  return {
    nodesOf(name) {
      // A watch that ended early would under-report moves: say so rather than pass.
      if (failure) throw new Error(`VMI watch ended: ${String(failure)}`);
      return nodes.get(name) ?? [];
    },
    stop: () => controller.abort(),
  };
}
