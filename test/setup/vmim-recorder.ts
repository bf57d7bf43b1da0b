// Every version of every VMIM of a test namespace, as a watch delivers them. A cancelled migration
// is written final and then released (finalizer off, deleted) within milliseconds: polling may
// miss the final version, a watch sees each one in order.
import { Watch } from '@kubernetes/client-node';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { eventually, type TestSystem } from './system.js';

export interface VmimRecorder {
  /** The versions of `name` seen so far, oldest first. */
  versions(name: string): VirtualMachineInstanceMigration[];
  /** Every migration name seen, in the order first seen, with when (this process's clock) it was first seen. */
  firstSeen(): Array<{ name: string; atMs: number; first: VirtualMachineInstanceMigration }>;
  /** Waits until `name` is deleted; returns its last version with a final phase. */
  finalBeforeGone(name: string, ms?: number): Promise<VirtualMachineInstanceMigration>;
  stop(): void;
}

export async function recordMigrations(system: TestSystem): Promise<VmimRecorder> {
  const seen = new Map<string, VirtualMachineInstanceMigration[]>();
  const deleted = new Set<string>();
  const first: Array<{ name: string; atMs: number; first: VirtualMachineInstanceMigration }> = [];
  let failure: unknown;
  const watch = new Watch(system.kubeConfig);
  const controller = await watch.watch(
    `/apis/kubevirt.io/v1/namespaces/${system.ns}/virtualmachineinstancemigrations`,
    {},
    (type: string, object: VirtualMachineInstanceMigration) => {
      const name = object.metadata?.name ?? '';
      if (!seen.has(name)) first.push({ name, atMs: Date.now(), first: object });
      seen.set(name, [...(seen.get(name) ?? []), object]);
      if (type === 'DELETED') deleted.add(name);
    },
    (error: unknown) => {
      // A watch that ends early would make every later wait fail with "not gone": say why instead.
      if (error) failure = error;
    },
  );
  return {
    versions: (name) => seen.get(name) ?? [],
    firstSeen() {
      if (failure) throw new Error(`watch ended: ${String(failure)}`);
      return [...first];
    },
    async finalBeforeGone(name, ms = 60_000) {
      await eventually(`${name} deleted (watch)`, async () => {
        if (failure) throw new Error(`watch ended: ${String(failure)}`);
        return deleted.has(name) ? true : undefined;
      }, ms, 50);
      const final = (seen.get(name) ?? []).filter((v) => v.status?.phase === 'Succeeded' || v.status?.phase === 'Failed');
      const last = final[final.length - 1];
      if (!last) throw new Error(`${name} was deleted without a final phase; phases seen: ${(seen.get(name) ?? []).map((v) => v.status?.phase ?? '-').join(',')}`);
      return last;
    },
    stop: () => controller.abort(),
  };
}
