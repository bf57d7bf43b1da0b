// Resolves a VMI's persistentVolumeClaim volumes to node paths before its VM starts: reads each
// claim and the PV it is bound to (the agent's RBAC: get on persistentvolumeclaims and
// persistentvolumes, nothing more), then pvc-disk.ts decides.
import { ApiException, type CoreV1Api, type V1PersistentVolume, type V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { pvcDisk, type PvcDiskFailure } from './pvc-disk.js';

/** Volume name → its disk on this node. */
export type PvcDisks = Record<string, { file: string; capacity?: string; shared: boolean }>;

export type PvcVolumes = { ok: true; disks: PvcDisks } | { ok: false; reason: PvcDiskFailure; message: string };

export type PvcVolumeResolver = (vmi: VirtualMachineInstance) => Promise<PvcVolumes>;

async function orUndefined<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return undefined;
    throw error;
  }
}

export function pvcVolumeResolver(core: CoreV1Api): PvcVolumeResolver {
  return async (vmi) => {
    const namespace = vmi.metadata.namespace ?? '';
    const disks: PvcDisks = {};
    for (const volume of vmi.spec?.volumes ?? []) {
      const claimName = (volume.persistentVolumeClaim as { claimName?: string } | undefined)?.claimName;
      if (!claimName) continue;
      const pvc: V1PersistentVolumeClaim | undefined = await orUndefined(core.readNamespacedPersistentVolumeClaim({ name: claimName, namespace }));
      const pvName = pvc?.status?.phase === 'Bound' ? pvc.spec?.volumeName : undefined;
      const pv: V1PersistentVolume | undefined = pvName ? await orUndefined(core.readPersistentVolume({ name: pvName })) : undefined;
      const disk = pvcDisk(volume.name, namespace, claimName, pvc, pv);
      if (!disk.ok) return disk;
      disks[volume.name] = { file: disk.file, ...(disk.capacity ? { capacity: disk.capacity } : {}), shared: disk.shared };
    }
    return { ok: true, disks };
  };
}
