// Where a persistentVolumeClaim volume's disk is on this node (pure): KubeVirt's convention for a
// filesystem PVC, `<the volume's directory>/disk.img` (raw), for a PV bound to a node path
// (`hostPath` or `local`). Anything else is refused with a reason the VMI's condition carries:
// the claim missing or not bound yet (the agent looks again later), a block-mode claim, a PV of
// another kind (NFS, CSI …: not mounted by this agent). A ReadWriteMany claim is shared storage: its
// disk is marked shareable, so a migration never copies it onto itself (only a VMI whose claims are
// all ReadWriteMany is live-migratable, as in KubeVirt).
import type { V1PersistentVolume, V1PersistentVolumeClaim } from '@kubernetes/client-node';

export const DISK_IMAGE = 'disk.img';

export type PvcDiskFailure = 'PvcNotFound' | 'PvcNotBound' | 'PvNotFound' | 'PvcNotFilesystem' | 'PvNotNodePath';

export type PvcDisk =
  | { ok: true; file: string; /** The claim's size, for a disk.img not there yet (KubeVirt creates it). */ capacity?: string; /** ReadWriteMany: on storage every node sees. */ shared: boolean }
  | { ok: false; reason: PvcDiskFailure; message: string };

const fail = (reason: PvcDiskFailure, message: string): PvcDisk => ({ ok: false, reason, message });

/** `pv` is the volume the claim is bound to (undefined: not found, or not looked up because unbound). */
export function pvcDisk(volume: string, namespace: string, claimName: string, pvc: V1PersistentVolumeClaim | undefined, pv: V1PersistentVolume | undefined): PvcDisk {
  const claim = `persistentVolumeClaim ${namespace}/${claimName} (volume ${volume})`;
  if (!pvc) return fail('PvcNotFound', `${claim} does not exist`);
  if (pvc.spec?.volumeMode === 'Block') return fail('PvcNotFilesystem', `${claim} has volumeMode Block; only Filesystem claims (a disk.img) are supported`);
  const pvName = pvc.spec?.volumeName;
  if (pvc.status?.phase !== 'Bound' || !pvName) return fail('PvcNotBound', `${claim} is not bound to a PersistentVolume yet (phase ${pvc.status?.phase ?? 'none'})`);
  if (!pv) return fail('PvNotFound', `${claim} is bound to PersistentVolume ${pvName}, which does not exist`);
  if (pv.spec?.volumeMode === 'Block') return fail('PvcNotFilesystem', `${claim}: PersistentVolume ${pvName} has volumeMode Block; only Filesystem volumes are supported`);
  const dir = pv.spec?.hostPath?.path ?? pv.spec?.local?.path;
  if (!dir || !dir.startsWith('/')) return fail('PvNotNodePath', `${claim}: PersistentVolume ${pvName} is not a node path (hostPath or local); only those are supported`);
  const capacity = pvc.status?.capacity?.storage ?? pvc.spec?.resources?.requests?.storage;
  const shared = pvc.spec?.accessModes?.includes('ReadWriteMany') ?? false;
  return { ok: true, file: `${dir.replace(/\/+$/, '')}/${DISK_IMAGE}`, ...(capacity ? { capacity } : {}), shared };
}
