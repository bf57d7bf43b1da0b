// Keeps every VMI's LiveMigratable condition and migrationMethod current: on any change of the
// VMI, and of any PVC it uses (a PVC switched to ReadWriteMany makes the VMI migratable).
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import type { DefensiveInformer, ObjectWithMeta } from '../../kube/informer.js';
import { VMI_PLURAL, isConflict, isNotFound, type KubevirtClient } from '../../kube/kubevirt-client.js';
import { computeMigratability } from '../migratability/live-migratable.js';
import { migratabilityPatch } from '../migratability/status-update.js';
import type { KeyQueue, ReconcileResult } from '../controller-runner.js';

export const objectKey = (namespace: string | undefined, name: string | undefined): string => `${namespace ?? ''}/${name ?? ''}`;

export function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** Claim names a VMI reads: PVC volumes, and DataVolumes (whose PVC has the same name). */
export function claimsOf(vmi: VirtualMachineInstance): string[] {
  return (vmi.spec?.volumes ?? []).flatMap((v) => [v.persistentVolumeClaim?.claimName, v.dataVolume?.name].filter((c): c is string => !!c));
}

export class VmiMigratabilityController {
  constructor(
    private readonly vmis: DefensiveInformer<VirtualMachineInstance>,
    private readonly pvcs: DefensiveInformer<V1PersistentVolumeClaim & ObjectWithMeta>,
    private readonly client: KubevirtClient,
    private readonly queue: KeyQueue,
  ) {}

  onVmiEvent = (_event: string, vmi: VirtualMachineInstance): void => {
    this.queue.add(objectKey(vmi.metadata.namespace, vmi.metadata.name));
  };

  onPvcEvent = (_event: string, pvc: V1PersistentVolumeClaim): void => {
    const namespace = pvc.metadata?.namespace;
    const claim = pvc.metadata?.name;
    if (!claim) return;
    for (const vmi of this.vmis.list(namespace)) {
      if (claimsOf(vmi).includes(claim)) this.queue.add(objectKey(namespace, vmi.metadata.name));
    }
  };

  reconcile = async (key: string): Promise<ReconcileResult | void> => {
    const { namespace, name } = splitKey(key);
    const vmi = this.vmis.get(name, namespace);
    if (!vmi) return;
    const result = computeMigratability(vmi, (claimName) => {
      const pvc = this.pvcs.get(claimName, namespace);
      return pvc ? { accessModes: pvc.spec?.accessModes ?? [] } : undefined;
    });
    const patch = migratabilityPatch(vmi, result, new Date().toISOString());
    if (!patch) return;
    try {
      await this.client.patchStatus(VMI_PLURAL, vmi.metadata, { ...patch });
    } catch (error) {
      // A newer VMI is on its way through the watch and will be reconciled; a deleted one needs nothing.
      if (isConflict(error) || isNotFound(error)) return;
      throw error;
    }
  };
}
