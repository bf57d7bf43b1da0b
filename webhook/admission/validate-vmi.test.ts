import { validateVmiCreate } from './validate-vmi.js';

const vmi = (spec: Record<string, unknown>, annotations: Record<string, string> = {}) => ({
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachineInstance',
  metadata: { name: 'vm', annotations },
  spec,
});
const domain = (extra: Record<string, unknown> = {}) => ({ memory: { guest: '128Mi' }, ...extra });
const message = (d: ReturnType<typeof validateVmiCreate>) => (d.allowed ? '' : d.message);

describe('VMI create: the subset', () => {
  it('admits every supported field', () => {
    const decision = validateVmiCreate(
      'ns',
      vmi(
        {
          terminationGracePeriodSeconds: 10,
          nodeSelector: { rack: 'r1' },
          evictionStrategy: 'LiveMigrate',
          tolerations: [
            { key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' },
            { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
            { operator: 'Exists' },
          ],
          affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } },
          domain: {
            memory: { guest: '256Mi' },
            resources: { requests: { memory: '256Mi' } },
            cpu: { sockets: 1, cores: 2, threads: 1 },
            devices: {
              autoattachSerialConsole: true,
              disks: [
                { name: 'root', disk: { bus: 'virtio' }, bootOrder: 1 },
                { name: 'data', disk: { bus: 'sata' } },
                { name: 'scratch', disk: {} },
              ],
            },
          },
          volumes: [
            { name: 'root', persistentVolumeClaim: { claimName: 'root-pvc' } },
            { name: 'data', hostDisk: { path: '/var/lib/disks/data.img', type: 'DiskOrCreate', capacity: '1Gi', shared: true } },
            { name: 'scratch', emptyDisk: { capacity: '2Gi' } },
          ],
        },
      ),
    );
    expect(decision).toEqual({ allowed: true, reason: 'Admitted' });
  });

  it('admits a kernel boot from node paths, and warns when there is nothing to boot from', () => {
    const kernel = { 'live-migration.io/kernel': '/var/lib/guest/vmlinuz', 'live-migration.io/initrd': '/var/lib/guest/initrd', 'live-migration.io/kernel-args': 'console=ttyS0' };
    expect(validateVmiCreate('ns', vmi({ domain: domain() }, kernel))).toEqual({ allowed: true, reason: 'Admitted' });
    expect(validateVmiCreate('ns', vmi({ domain: domain() }))).toEqual({
      allowed: true,
      reason: 'Admitted',
      warnings: ['spec.domain.devices.disks: nothing to boot from (add a disk, or annotation live-migration.io/kernel)'],
    });
  });

  it('refuses a bad toleration or eviction strategy, naming the field and why, as Kubernetes does for a pod', () => {
    const decision = validateVmiCreate(
      'ns',
      vmi({
        domain: domain(),
        evictionStrategy: 'Migrate',
        tolerations: [{ value: 'x' }, { key: 'a', operator: 'Exists', value: 'b' }, { key: 'a', operator: 'In' }, { key: 'a', effect: 'Sometimes' }, { key: 'a', effect: 'NoSchedule', tolerationSeconds: 5 }, { key: 'bad key' }],
      }),
    );
    expect(decision).toMatchObject({ allowed: false, reason: 'VMIInvalid', code: 422 });
    const text = message(decision);
    expect(text).toContain('spec.tolerations[0].operator: must be Exists when key is empty (a toleration of every taint)');
    expect(text).toContain('spec.tolerations[1].value: must be empty when operator is Exists');
    expect(text).toContain('spec.tolerations[2].operator: must be Exists or Equal (got "In")');
    expect(text).toContain('spec.tolerations[3].effect: must be one of NoSchedule, PreferNoSchedule, NoExecute or empty (got "Sometimes")');
    expect(text).toContain('spec.tolerations[4].tolerationSeconds: only with effect NoExecute');
    expect(text).toContain('spec.tolerations[5].key: the name part must consist of letters');
    expect(text).toContain('spec.evictionStrategy: must be one of None, LiveMigrate, LiveMigrateIfPossible, External (got "Migrate")');
  });

  it('refuses a bridge interface and a containerDisk, naming each field as not supported yet', () => {
    const decision = validateVmiCreate(
      'ns',
      vmi({
        domain: domain({ devices: { interfaces: [{ name: 'default', bridge: {} }], disks: [{ name: 'root', disk: { bus: 'virtio' } }] } }),
        networks: [{ name: 'default', pod: {} }],
        volumes: [{ name: 'root', containerDisk: { image: 'quay.io/containerdisks/fedora' } }],
      }),
    );
    expect(decision).toMatchObject({ allowed: false, reason: 'VMIFieldNotSupported', code: 422 });
    expect(message(decision)).toBe(
      'VirtualMachineInstance ns/vm: spec.networks: not supported yet; spec.domain.devices.interfaces: not supported yet; ' +
        'spec.volumes[0].containerDisk: not supported yet (supported volume sources: persistentVolumeClaim, hostDisk, emptyDisk)',
    );
  });

  it('refuses a bus, a device or a domain field outside the subset', () => {
    const decision = validateVmiCreate('ns', vmi({ domain: domain({ firmware: { bootloader: { efi: {} } }, devices: { disks: [{ name: 'd', cdrom: { bus: 'sata' } }, { name: 'e', disk: { bus: 'scsi' } }] } }), volumes: [{ name: 'd', emptyDisk: { capacity: '1Gi' } }, { name: 'e', emptyDisk: { capacity: '1Gi' } }] }));
    expect(message(decision)).toBe(
      'VirtualMachineInstance ns/vm: spec.domain.firmware: not supported yet; spec.domain.devices.disks[0].cdrom: not supported yet; spec.domain.devices.disks[1].disk.bus: "scsi" is not supported yet (supported: virtio, sata)',
    );
  });

  it('refuses bad values inside the subset with the field and the reason', () => {
    const decision = validateVmiCreate(
      'ns',
      vmi({
        domain: { resources: { requests: { memory: 'lots' } }, cpu: { cores: 0 }, devices: { disks: [{ name: 'a', disk: {} }] } },
        volumes: [{ name: 'b', hostDisk: { path: 'rel/path', type: 'Disk', capacity: '1Gi' } }],
      }),
    );
    expect(decision).toMatchObject({ allowed: false, reason: 'VMIInvalid' });
    expect(message(decision)).toContain('spec.domain.resources.requests.memory: ');
    expect(message(decision)).toContain('spec.domain.cpu.cores: must be a positive integer (got 0)');
    expect(message(decision)).toContain('spec.volumes[0].hostDisk.path: must be an absolute path');
    expect(message(decision)).toContain('spec.volumes[0].hostDisk.capacity: only with type DiskOrCreate');
    expect(message(decision)).toContain('spec.domain.devices.disks[0].name: no volume named a');
    expect(message(decision)).toContain('spec.volumes[0].name: no disk named b');
    expect(message(validateVmiCreate('ns', vmi({ domain: {} })))).toBe(
      'VirtualMachineInstance ns/vm: spec.domain.memory.guest: is required (or spec.domain.resources.requests.memory)',
    );
  });

  it('admits a VMI run by someone else as it is', () => {
    expect(validateVmiCreate('ns', vmi({ networks: [{ name: 'x' }] }, { 'live-migration.io/placement': 'external' }))).toEqual({ allowed: true, reason: 'NotApplicable' });
  });
});
