import { describe, expect, it } from '@jest/globals';
import type { V1PersistentVolume, V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { pvcDisk } from './pvc-disk.js';

const bound = (extra: V1PersistentVolumeClaim['spec'] = {}): V1PersistentVolumeClaim => ({
  metadata: { name: 'data', namespace: 'ns' },
  spec: { volumeName: 'pv-1', resources: { requests: { storage: '1Gi' } }, ...extra },
  status: { phase: 'Bound', capacity: { storage: '2Gi' } },
});
const pv = (spec: V1PersistentVolume['spec']): V1PersistentVolume => ({ metadata: { name: 'pv-1' }, spec });

describe('pvcDisk', () => {
  it('a hostPath or local PV: <path>/disk.img (KubeVirt’s convention), with the claim’s capacity', () => {
    expect(pvcDisk('root', 'ns', 'data', bound(), pv({ hostPath: { path: '/srv/pv-1/' } }))).toEqual({ ok: true, file: '/srv/pv-1/disk.img', capacity: '2Gi', shared: false });
    expect(pvcDisk('root', 'ns', 'data', bound(), pv({ local: { path: '/mnt/disks/a' } }))).toEqual({ ok: true, file: '/mnt/disks/a/disk.img', capacity: '2Gi', shared: false });
  });

  it('a ReadWriteMany claim is shared storage (never copied by a migration); ReadWriteOnce is not', () => {
    expect(pvcDisk('root', 'ns', 'data', bound({ accessModes: ['ReadWriteMany'] }), pv({ hostPath: { path: '/srv/pv-1' } }))).toMatchObject({ ok: true, shared: true });
    expect(pvcDisk('root', 'ns', 'data', bound({ accessModes: ['ReadWriteOnce'] }), pv({ hostPath: { path: '/srv/pv-1' } }))).toMatchObject({ ok: true, shared: false });
  });

  it('refuses, naming the claim and the reason: missing, unbound, its PV missing', () => {
    expect(pvcDisk('root', 'ns', 'data', undefined, undefined)).toEqual({ ok: false, reason: 'PvcNotFound', message: 'persistentVolumeClaim ns/data (volume root) does not exist' });
    const pending: V1PersistentVolumeClaim = { ...bound(), spec: { volumeName: '' }, status: { phase: 'Pending' } };
    expect(pvcDisk('root', 'ns', 'data', pending, undefined)).toMatchObject({ ok: false, reason: 'PvcNotBound', message: expect.stringContaining('phase Pending') });
    expect(pvcDisk('root', 'ns', 'data', bound(), undefined)).toMatchObject({ ok: false, reason: 'PvNotFound', message: expect.stringContaining('pv-1') });
  });

  it('refuses a block-mode claim or volume, and a PV that is not a node path', () => {
    expect(pvcDisk('root', 'ns', 'data', bound({ volumeMode: 'Block' }), pv({ hostPath: { path: '/srv' } }))).toMatchObject({ ok: false, reason: 'PvcNotFilesystem' });
    expect(pvcDisk('root', 'ns', 'data', bound(), pv({ volumeMode: 'Block', local: { path: '/dev/sdb' } }))).toMatchObject({ ok: false, reason: 'PvcNotFilesystem' });
    expect(pvcDisk('root', 'ns', 'data', bound(), pv({ nfs: { server: 'n', path: '/export' } }))).toMatchObject({ ok: false, reason: 'PvNotNodePath', message: expect.stringContaining('hostPath or local') });
  });
});
