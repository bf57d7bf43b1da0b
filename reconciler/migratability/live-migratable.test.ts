import { describe, expect, it } from '@jest/globals';
import type { VirtualMachineInstance, Volume } from '../../api/schemas/vmi.js';
import { ALLOW_POD_BRIDGE_ANNOTATION, computeMigratability, type PvcFacts } from './live-migratable.js';

const RWX: PvcFacts = { accessModes: ['ReadWriteMany'] };
const RWO: PvcFacts = { accessModes: ['ReadWriteOnce'] };

function vmi(volumes: Volume[], domain: Record<string, unknown> = {}, extra: Partial<VirtualMachineInstance> = {}): VirtualMachineInstance {
  return { metadata: { name: 'vmi-fedora', namespace: 'default' }, spec: { volumes, domain }, ...extra };
}

function lookupFrom(pvcs: Record<string, PvcFacts>) {
  return (name: string): PvcFacts | undefined => pvcs[name];
}

const podNetwork = { networks: [{ name: 'default', pod: {} }] };

describe('computeMigratability', () => {
  it('only RWX claims → LiveMigratable=True and LiveMigration', () => {
    const result = computeMigratability(
      vmi([
        { name: 'root', persistentVolumeClaim: { claimName: 'root-pvc' } },
        { name: 'data', dataVolume: { name: 'data-dv' } },
      ]),
      lookupFrom({ 'root-pvc': RWX, 'data-dv': RWX }),
    );
    expect(result.condition).toEqual({ type: 'LiveMigratable', status: 'True' });
    expect(result.migrationMethod).toBe('LiveMigration');
  });

  it.each<[string, Volume]>([
    ['containerDisk', { name: 'os', containerDisk: { image: 'fedora' } }],
    ['emptyDisk', { name: 'scratch', emptyDisk: { capacity: '1Gi' } }],
    ['ephemeral', { name: 'eph', ephemeral: { persistentVolumeClaim: { claimName: 'base' } } }],
    ['cloudInitNoCloud', { name: 'ci', cloudInitNoCloud: { userData: '#cloud-config' } }],
    ['cloudInitConfigDrive', { name: 'cd', cloudInitConfigDrive: { userData: '#cloud-config' } }],
  ])('a %s is copied: migratable by BlockMigration', (_kind, volume) => {
    const result = computeMigratability(vmi([volume]), lookupFrom({}));
    expect(result.condition.status).toBe('True');
    expect(result.migrationMethod).toBe('BlockMigration');
    expect(result.localVolumes).toEqual([volume.name]);
  });

  it("an RWO PVC → DisksNotLiveMigratable with KubeVirt's message naming the claim", () => {
    const result = computeMigratability(
      vmi([{ name: 'root', persistentVolumeClaim: { claimName: 'root-pvc' } }]),
      lookupFrom({ 'root-pvc': RWO }),
    );
    expect(result.condition).toEqual({
      type: 'LiveMigratable',
      status: 'False',
      reason: 'DisksNotLiveMigratable',
      message:
        'PVC root-pvc is not shared, live migration requires that all PVCs must be shared (using ReadWriteMany access mode)',
    });
    expect(result.migrationMethod).toBe('BlockMigration');
  });

  it('a DataVolume is judged by the PVC of the same name', () => {
    const result = computeMigratability(vmi([{ name: 'd', dataVolume: { name: 'dv1' } }]), lookupFrom({ dv1: RWO }));
    expect(result.condition.message).toContain('PVC dv1 is not shared');
  });

  it('a missing PVC blocks migration with a clear message', () => {
    const result = computeMigratability(vmi([{ name: 'd', persistentVolumeClaim: { claimName: 'gone' } }]), lookupFrom({}));
    expect(result.condition).toMatchObject({ status: 'False', reason: 'DisksNotLiveMigratable', message: 'PVC gone not found' });
  });

  it('a hostDisk blocks migration', () => {
    const result = computeMigratability(vmi([{ name: 'hd', hostDisk: { path: '/data/disk.img', type: 'Disk' } }]), lookupFrom({}));
    expect(result.condition).toMatchObject({ status: 'False', reason: 'DisksNotLiveMigratable' });
    expect(result.condition.message).toContain('hd is a hostDisk');
  });

  it('host devices and GPUs → HostDeviceNotLiveMigratable naming each device', () => {
    const result = computeMigratability(
      vmi([], {
        devices: {
          hostDevices: [{ name: 'nic1', deviceName: 'intel.com/sriov' }],
          gpus: [{ name: 'gpu1', deviceName: 'nvidia.com/TU104GL' }],
        },
      }),
      lookupFrom({}),
    );
    expect(result.condition.reason).toBe('HostDeviceNotLiveMigratable');
    expect(result.condition.message).toContain('host device nic1 (intel.com/sriov)');
    expect(result.condition.message).toContain('GPU gpu1 (nvidia.com/TU104GL)');
  });

  it('bridge binding on the pod network → InterfaceNotLiveMigratable; masquerade is fine', () => {
    const bridged = vmi([], { devices: { interfaces: [{ name: 'default', bridge: {} }] } });
    const masqueraded = vmi([], { devices: { interfaces: [{ name: 'default', masquerade: {} }] } });
    Object.assign(bridged.spec ?? {}, podNetwork);
    Object.assign(masqueraded.spec ?? {}, podNetwork);
    expect(computeMigratability(bridged, lookupFrom({})).condition).toMatchObject({
      status: 'False',
      reason: 'InterfaceNotLiveMigratable',
    });
    expect(computeMigratability(masqueraded, lookupFrom({})).condition.status).toBe('True');
  });

  it('bridge on a multus network, or with the allow annotation, does not block', () => {
    const multus = vmi([], { devices: { interfaces: [{ name: 'sec', bridge: {} }] } });
    Object.assign(multus.spec ?? {}, { networks: [{ name: 'sec', multus: { networkName: 'br10' } }] });
    expect(computeMigratability(multus, lookupFrom({})).condition.status).toBe('True');

    const allowed = vmi([], { devices: { interfaces: [{ name: 'default', bridge: {} }] } });
    Object.assign(allowed.spec ?? {}, podNetwork);
    allowed.metadata.annotations = { [ALLOW_POD_BRIDGE_ANNOTATION]: '' };
    expect(computeMigratability(allowed, lookupFrom({})).condition.status).toBe('True');
  });

  it('lists every blocker, reason from the first', () => {
    const subject = vmi(
      [
        { name: 'a', persistentVolumeClaim: { claimName: 'a-pvc' } },
        { name: 'b', persistentVolumeClaim: { claimName: 'b-pvc' } },
      ],
      { devices: { interfaces: [{ name: 'default', bridge: {} }], gpus: [{ name: 'g' }] } },
    );
    Object.assign(subject.spec ?? {}, podNetwork);
    const result = computeMigratability(subject, lookupFrom({ 'a-pvc': RWO }));
    expect(result.condition.reason).toBe('DisksNotLiveMigratable');
    expect(result.blockers.map((b) => b.reason)).toEqual([
      'DisksNotLiveMigratable',
      'DisksNotLiveMigratable',
      'InterfaceNotLiveMigratable',
      'HostDeviceNotLiveMigratable',
    ]);
    const message = result.condition.message ?? '';
    for (const part of ['PVC a-pvc is not shared', 'PVC b-pvc not found', 'interface default', 'GPU g']) {
      expect(message).toContain(part);
    }
  });

  it('reads a malformed domain as having no devices rather than throwing', () => {
    const result = computeMigratability(vmi([], { devices: { interfaces: 'eth0', gpus: [null, 3] } }), lookupFrom({}));
    expect(result.condition.status).toBe('True');
  });
});
