// The VMI controller publishes LiveMigratable and migrationMethod, and keeps them current when a
// PVC the VMI uses changes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { createRunningVmi, eventually, getVmi, startTestSystem, type TestSystem } from '../setup/system.js';

let system: TestSystem;

beforeAll(async () => {
  system = await startTestSystem('rec-lm', { nodes: 2 });
}, 180_000);

afterAll(async () => {
  await system?.stop();
});

async function createPvc(name: string, accessModes: string[]): Promise<void> {
  await system.core.createNamespacedPersistentVolumeClaim({
    namespace: system.ns,
    body: { metadata: { name }, spec: { accessModes, resources: { requests: { storage: '1Gi' } } } },
  });
}

async function evaluated(name: string) {
  return eventually(`${name} to be evaluated`, async () => {
    const vmi = await getVmi(system, name);
    const condition = vmi.status?.conditions?.find((c) => c.type === 'LiveMigratable');
    return condition ? { condition, method: vmi.status?.migrationMethod } : undefined;
  }, 20_000);
}

describe('LiveMigratable and migrationMethod', () => {
  it('an RWO PVC makes the VMI not migratable, naming the PVC', async () => {
    await createPvc('data-rwo', ['ReadWriteOnce']);
    await createRunningVmi(system, 'vm-rwo', { node: system.nodes[0] ?? '', volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data-rwo' } }] });
    const { condition } = await evaluated('vm-rwo');
    expect(condition.status).toBe('False');
    expect(condition.reason).toBe('DisksNotLiveMigratable');
    expect(condition.message).toContain('PVC data-rwo is not shared');
  });

  it('only RWX volumes: LiveMigration', async () => {
    await createPvc('data-rwx', ['ReadWriteMany']);
    await createRunningVmi(system, 'vm-rwx', { node: system.nodes[0] ?? '', volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data-rwx' } }] });
    expect(await evaluated('vm-rwx')).toMatchObject({ condition: { status: 'True' }, method: 'LiveMigration' });
  });

  it('a containerDisk: BlockMigration', async () => {
    await createRunningVmi(system, 'vm-cd', { node: system.nodes[0] ?? '', volumes: [{ name: 'root', containerDisk: { image: 'quay.io/containerdisks/fedora' } }] });
    expect(await evaluated('vm-cd')).toMatchObject({ condition: { status: 'True' }, method: 'BlockMigration' });
  });

  it('every blocker is listed, and the result follows a PVC switched to ReadWriteMany', async () => {
    await createPvc('a-rwo', ['ReadWriteOnce']);
    await createPvc('b-rwo', ['ReadWriteOnce']);
    await createRunningVmi(system, 'vm-two', {
      node: system.nodes[0] ?? '',
      volumes: [
        { name: 'a', persistentVolumeClaim: { claimName: 'a-rwo' } },
        { name: 'b', persistentVolumeClaim: { claimName: 'b-rwo' } },
      ],
    });
    const before = await evaluated('vm-two');
    expect(before.condition.message).toContain('PVC a-rwo');
    expect(before.condition.message).toContain('PVC b-rwo');
    // A PVC's access modes cannot change; the user recreates it as ReadWriteMany.
    for (const name of ['a-rwo', 'b-rwo']) {
      await system.core.deleteNamespacedPersistentVolumeClaim({ name, namespace: system.ns });
      // No controller-manager runs here, so the pvc-protection finalizer is removed by hand.
      await system.core
        .patchNamespacedPersistentVolumeClaim({ name, namespace: system.ns, body: { metadata: { finalizers: null } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))
        .catch(() => undefined);
      await eventually(`${name} gone`, async () => (await system.core.readNamespacedPersistentVolumeClaim({ name, namespace: system.ns }).then(() => undefined, () => true)), 10_000);
      await createPvc(name, ['ReadWriteMany']);
    }
    const after = await eventually('vm-two to become migratable', async () => {
      const vmi = await getVmi(system, 'vm-two');
      const condition = vmi.status?.conditions?.find((c) => c.type === 'LiveMigratable');
      return condition?.status === 'True' ? vmi : undefined;
    }, 20_000);
    expect(after.status?.migrationMethod).toBe('LiveMigration');
  });
});
