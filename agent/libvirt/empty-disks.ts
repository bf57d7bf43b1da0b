// emptyDisk images as volumes of one libvirt `dir` storage pool per node, at the same path on every
// node. Why a pool: a BlockMigration (`virsh migrate --copy-storage-all`) needs the disk on the
// target before QEMU copies into it, and libvirt creates it there itself (same name, capacity and
// format) only when the path's directory is a storage pool's target. The pool is defined, built,
// started and autostarted by the agent when missing, so a node that never ran an emptyDisk VM can
// still receive one.
//
// Names: `<domain>_<volume>.qcow2` (domain `<namespace>_<name>`; no Kubernetes name has `_`).
// A volume left by a VM that migrated away (--undefinesource removes the domain, not its disks) is
// deleted once two looks in a row (list(), each resync) found no domain of its name here.
import { virsh, VirshError } from './virsh.js';

export const EMPTY_DISK_POOL = 'live-migration-empty-disks';
export const DEFAULT_EMPTY_DISK_DIR = '/var/lib/libvirt/live-migration-empty-disks';

const notFound = (error: unknown) => error instanceof VirshError && /not found|no storage (pool|vol)|failed to get (pool|vol)/i.test(error.libvirtMessage);

/** Our volume names in `virsh -q vol-list` (no header under -q; tolerated when there). */
export function parseVolumeNames(table: string): string[] {
  return table
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.endsWith('.qcow2') && name.includes('_'));
}

export class EmptyDiskPool {
  private ready: Promise<void> | undefined;
  private orphansSeen = new Set<string>();

  constructor(
    private readonly uri: string,
    readonly dir: string,
  ) {}

  /** The pool defined and running (once per process; a failure is tried again next time). */
  ensure(): Promise<void> {
    this.ready ??= this.setUp().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  /** A qcow2 of `bytes` for the domain's volume (kept when there: a second start reuses it); its path. */
  async create(domain: string, volume: string, bytes: number): Promise<string> {
    await this.ensure();
    const name = `${domain}_${volume}.qcow2`;
    try {
      await virsh(this.uri, ['vol-info', '--pool', EMPTY_DISK_POOL, name]);
    } catch (error) {
      if (!notFound(error)) throw error;
      await virsh(this.uri, ['vol-create-as', EMPTY_DISK_POOL, name, String(bytes), '--format', 'qcow2']);
    }
    // The pool's own path (a pool defined before with another target keeps it).
    return (await virsh(this.uri, ['vol-path', '--pool', EMPTY_DISK_POOL, name])).trim();
  }

  /** Deletes the domain's volumes. */
  async removeOf(domain: string): Promise<void> {
    for (const name of await this.volumes()) if (name.startsWith(`${domain}_`)) await this.delete(name);
  }

  /** Deletes volumes of domains this node has not had at two looks in a row (`domains`: every defined one). */
  async collect(domains: ReadonlySet<string>): Promise<void> {
    const orphans = (await this.volumes()).filter((name) => !domains.has(name.slice(0, name.lastIndexOf('_'))));
    for (const name of orphans) if (this.orphansSeen.has(name)) await this.delete(name);
    this.orphansSeen = new Set(orphans);
  }

  private async volumes(): Promise<string[]> {
    await this.ensure();
    await virsh(this.uri, ['pool-refresh', EMPTY_DISK_POOL]);
    return parseVolumeNames(await virsh(this.uri, ['vol-list', '--pool', EMPTY_DISK_POOL]));
  }

  private async delete(name: string): Promise<void> {
    await virsh(this.uri, ['vol-delete', '--pool', EMPTY_DISK_POOL, name]).catch((error: unknown) => {
      if (!notFound(error)) throw error;
    });
  }

  private async setUp(): Promise<void> {
    let info: string;
    try {
      info = await virsh(this.uri, ['pool-info', EMPTY_DISK_POOL]);
    } catch (error) {
      if (!notFound(error)) throw error;
      await virsh(this.uri, ['pool-define-as', EMPTY_DISK_POOL, 'dir', '--target', this.dir]);
      await virsh(this.uri, ['pool-build', EMPTY_DISK_POOL]);
      await virsh(this.uri, ['pool-autostart', EMPTY_DISK_POOL]);
      info = await virsh(this.uri, ['pool-info', EMPTY_DISK_POOL]);
    }
    if (!/^State:\s+running/m.test(info)) await virsh(this.uri, ['pool-start', EMPTY_DISK_POOL]);
  }
}
