// A VMI's disks on real libvirt + QEMU (TCG, the two-host harness):
// - an emptyDisk makes the VMI BlockMigration; it migrates with its disk copied (--copy-storage-all
//   into a disk libvirt created in the target's pool): data QEMU wrote to the disk on the source
//   reads back on the target, and the source's copy is deleted. (The test guest's kernel has no
//   disk driver built in, so the data is written and read by QEMU's own block layer through HMP
//   `qemu-io`, on the running domain, not by the guest.)
// - a persistentVolumeClaim: refused with Synchronized=False (PvcNotFound) while the claim is
//   missing; once it is bound to a hostPath PV, the VM runs with `<path>/disk.img` (created at the
//   claim's size).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { EMPTY_DISK_POOL as POOL, parseVolumeNames } from '../../agent/libvirt/empty-disks.js';
import { guestImage, guestVmi, virsh, type TestHost } from '../hosts/index.js';
import { kubectl } from '../setup/environment.js';
import { startLibvirtVmSystem, type LibvirtVmSystem } from '../setup/libvirt-vm-agents.js';
import { createMigration, eventually, getMigration, getVmi, type TestSystem } from '../setup/system.js';

let vm: LibvirtVmSystem | undefined;
let system: TestSystem | undefined;
let pvDir: string;
let hostOf = new Map<string, TestHost>();
let image: { kernel: string; initrd: string };

const sys = (): TestSystem => system ?? (() => { throw new Error('system not started'); })();
const domain = (vmi: string) => `${sys().ns}_${vmi}`;
const pvName = () => `${sys().ns}-pv`;

beforeAll(async () => {
  image = guestImage();
  pvDir = mkdtempSync(join(tmpdir(), 'live-migration-pv-'));
  // The default --empty-disk-dir is under /var, which each test host has to itself.
  vm = await startLibvirtVmSystem('lvd');
  ({ system, hostOf } = vm);
}, 240_000);

afterAll(async () => {
  if (system) await system.core.deletePersistentVolume({ name: pvName() }).catch(() => undefined);
  if (pvDir) rmSync(pvDir, { recursive: true, force: true });
  await vm?.stop();
}, 90_000);

function manifest(name: string, volume: Record<string, unknown>): string {
  return JSON.stringify(
    guestVmi(name, {
      namespace: sys().ns,
      image,
      grace: 0,
      spec: { domain: { memory: { guest: '128Mi' }, devices: { disks: [{ name: 'data', disk: { bus: 'virtio' } }] } }, volumes: [{ name: 'data', ...volume }] },
    }),
  );
}

function host(node: string): TestHost {
  const h = hostOf.get(node);
  if (!h) throw new Error(`no host for ${node}`);
  return h;
}

async function running(name: string): Promise<VirtualMachineInstance> {
  return eventually(`${name} Running`, async () => {
    const v = await getVmi(sys(), name);
    return v.status?.phase === 'Running' ? v : undefined;
  }, 90_000, 200);
}

/** The file of the domain's disk `data` as its QEMU has it. */
async function diskSource(on: TestHost, vmi: string): Promise<string> {
  const xml = await virsh(on, ['dumpxml', domain(vmi)]);
  const disk = /<disk[^>]*>[\s\S]*?<\/disk>/g.exec(xml)?.[0] ?? '';
  return /<source file='([^']+)'/.exec(disk)?.[1] ?? '';
}

/**
 * HMP qemu-io on the running domain's disk (QEMU's block layer, as a guest write would go); QEMU
 * prints the outcome to its stderr, the domain's log on that host: returns what the command added.
 */
async function qemuIo(on: TestHost, vmi: string, command: string): Promise<string> {
  const logFile = join(on.dir, 'log', 'qemu', `${domain(vmi)}.log`);
  const from = readFileSync(logFile, 'utf8').length;
  await virsh(on, ['qemu-monitor-command', domain(vmi), '--hmp', `qemu-io -d /machine/peripheral/ua-data/virtio-backend "${command}"`]);
  return eventually(`qemu-io ${command}`, async () => {
    const added = readFileSync(logFile, 'utf8').slice(from);
    return /(wrote|read) \d+\/\d+ bytes/.test(added) ? added : undefined;
  }, 10_000, 100);
}

const volumes = async (on: TestHost) => parseVolumeNames(await virsh(on, ['vol-list', '--pool', POOL]));

describe('VMI disks on libvirt', () => {
  it('an emptyDisk: BlockMigration, migrated with its data copied to the target, the source copy deleted', async () => {
    expect(kubectl(['apply', '-f', '-'], manifest('scratch', { emptyDisk: { capacity: '64Mi' } })).code).toBe(0);
    const vmi = await running('scratch');
    const source = host(vmi.status?.nodeName ?? '');
    await eventually('BlockMigration', async () => ((await getVmi(sys(), 'scratch')).status?.migrationMethod === 'BlockMigration' ? true : undefined), 30_000, 200);
    const file = await diskSource(source, 'scratch');
    expect(file).toBe(`/var/lib/libvirt/live-migration-empty-disks/${domain('scratch')}_data.qcow2`);
    expect(await volumes(source)).toContain(`${domain('scratch')}_data.qcow2`);
    const wrote = await qemuIo(source, 'scratch', 'write -P 0x5a 1M 64k');
    expect(wrote).toMatch(/wrote 65536\/65536 bytes/);

    await createMigration(sys(), 'move', 'scratch');
    const done = await eventually('move final', async () => {
      const m = await getMigration(sys(), 'move');
      return m?.status?.phase === 'Succeeded' || m?.status?.phase === 'Failed' ? m : undefined;
    }, 180_000, 250);
    expect(done.status?.phase).toBe('Succeeded');
    const moved = await getVmi(sys(), 'scratch');
    const target = host(moved.status?.nodeName ?? '');
    expect(target).not.toBe(source);
    expect(await diskSource(target, 'scratch')).toBe(file);
    expect(await volumes(target)).toContain(`${domain('scratch')}_data.qcow2`);
    // The pattern reads back from the target's copy; a disk not copied would read zeros and fail the check.
    const read = await qemuIo(target, 'scratch', 'read -P 0x5a 1M 64k');
    expect(read).toMatch(/read 65536\/65536 bytes at offset 1048576/);
    expect(read).not.toMatch(/Pattern verification failed/);
    // The check can fail: another pattern where the marker is.
    expect(await qemuIo(target, 'scratch', 'read -P 0x11 1M 64k')).toMatch(/Pattern verification failed/);
    await eventually('the source copy deleted', async () => ((await volumes(source)).includes(`${domain('scratch')}_data.qcow2`) ? undefined : true), 60_000, 500);

    expect(kubectl(['delete', 'vmi', 'scratch', '-n', sys().ns, '--wait=true', '--timeout=60s']).code).toBe(0);
    expect(await volumes(target)).not.toContain(`${domain('scratch')}_data.qcow2`);
  }, 300_000);

  it('a persistentVolumeClaim: refused with the reason while missing; bound to a hostPath PV it runs on <path>/disk.img', async () => {
    expect(kubectl(['apply', '-f', '-'], manifest('claimed', { persistentVolumeClaim: { claimName: 'data' } })).code).toBe(0);
    const refused = await eventually('Synchronized False', async () => {
      const v = await getVmi(sys(), 'claimed');
      return v.status?.conditions?.find((c) => c.type === 'Synchronized' && c.status === 'False');
    }, 60_000, 200);
    expect(refused).toMatchObject({ reason: 'PvcNotFound', message: `persistentVolumeClaim ${sys().ns}/data (volume data) does not exist` });
    expect((await getVmi(sys(), 'claimed')).status?.phase).not.toBe('Running');

    // No PV controller in the test control plane: bind as it would (PV claimRef, PVC volumeName and status).
    const path = join(pvDir, 'data');
    await sys().core.createPersistentVolume({
      body: {
        metadata: { name: pvName() },
        spec: { capacity: { storage: '32Mi' }, accessModes: ['ReadWriteOnce'], hostPath: { path }, claimRef: { namespace: sys().ns, name: 'data' } },
      },
    });
    await sys().core.createNamespacedPersistentVolumeClaim({
      namespace: sys().ns,
      body: { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], volumeName: pvName(), resources: { requests: { storage: '32Mi' } } } },
    });
    const pvc = await sys().core.readNamespacedPersistentVolumeClaim({ name: 'data', namespace: sys().ns });
    await sys().core.replaceNamespacedPersistentVolumeClaimStatus({
      name: 'data',
      namespace: sys().ns,
      body: { ...pvc, status: { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '32Mi' } } },
    });

    const vmi = await running('claimed');
    expect(vmi.status?.conditions?.some((c) => c.type === 'Synchronized')).toBe(false);
    const on = host(vmi.status?.nodeName ?? '');
    expect(await diskSource(on, 'claimed')).toBe(join(path, 'disk.img'));
    expect(existsSync(join(path, 'disk.img'))).toBe(true);
    expect(statSync(join(path, 'disk.img')).size).toBe(32 * 2 ** 20);
    expect(kubectl(['delete', 'vmi', 'claimed', '-n', sys().ns, '--wait=true', '--timeout=60s']).code).toBe(0);
  }, 240_000);
});
