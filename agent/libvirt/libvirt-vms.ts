// The libvirt VM host: the agent's VM lifecycle on one node's libvirtd (through virsh, as the
// migration side). Only domains carrying our metadata element (the VMI's UID) are ours: a domain
// someone else defined is never listed, stopped or undefined.
//
// States (KubeVirt's mapping): running, idle, paused, in shutdown, pmsuspended → Running;
// "shut off (shutdown|saved)" → Succeeded; crashed, "shut off (crashed|failed|destroyed)" →
// Failed with libvirt's reason; "shut off (migrated)" (the instant before --undefinesource) →
// Running (the guest runs on, elsewhere); defined and never started ("shut off (unknown)") → not
// a VM yet, so start() boots it (one start: a domain that ever ran is never started again).
// Shutdown: ACPI (`virsh shutdown`), `virsh destroy` at the deadline, then undefine. The deadline
// (shutdown-deadline.ts) is recorded in `<stateDir>/shutdowns/<domain>` before the guest is asked,
// so an agent killed mid-grace and restarted destroys the guest at the original instant.
import { mkdirSync, openSync, closeSync, ftruncateSync, existsSync, readFileSync, writeFileSync, renameSync, rmSync, statSync, readSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseQuantity } from '../../api/quantity.js';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { CONSOLE_MAX_BYTES, type VmHost, type VmInfo } from '../vms/vm-host.js';
import { shutdownStep } from '../vms/shutdown-deadline.js';
import type { PvcDisks } from '../vms/pvc-volumes.js';
import { DEFAULT_EMPTY_DISK_DIR, EmptyDiskPool } from './empty-disks.js';
import { describe as describeState, readDomainState, silentLog, type DriverLog } from './libvirt-common.js';
import { classifyLibvirtError, type DomainState } from './parse.js';
import { virsh, VirshError } from './virsh.js';
import { parseVmiUid, VMI_METADATA_URI, vmDomainName, vmDomainXml, type DomainDisk } from './vm-domain-xml.js';


export interface LibvirtVmHostOptions {
  uri: string;
  /** kvm, or qemu (TCG) where /dev/kvm is absent (the test hosts). */
  domainType: 'kvm' | 'qemu';
  /** Where libvirt writes each guest's serial console (`<domain>-console.log`), as libvirtd sees it. */
  consoleDir: string;
  /** The same directory as this agent reads it (libvirtd may see another mount namespace); default consoleDir. */
  consoleReadDir?: string;
  /** Domain XML and shutdown deadlines. */
  stateDir: string;
  /** emptyDisk images: a libvirt storage pool's directory, the same path on every node (empty-disks.ts). */
  emptyDiskDir?: string;
  resyncMs?: number;
  /** For log lines only. */
  node?: string;
  log?: DriverLog;
}

const keyOf = (domain: string): string => {
  const i = domain.indexOf('_');
  return `${domain.slice(0, i)}/${domain.slice(i + 1)}`;
};
const domainOf = (key: string): string => key.replace('/', '_');

function vmState(state: DomainState): Pick<VmInfo, 'state' | 'reason'> | undefined {
  if (state.state === 'shut off') {
    if (state.reason === 'unknown' || state.reason === undefined) return undefined; // defined, never started
    if (state.reason === 'migrated') return { state: 'Running' };
    if (state.reason === 'shutdown' || state.reason === 'saved') return { state: 'Succeeded', reason: `the guest is ${describeState(state)}` };
    return { state: 'Failed', reason: `the domain is ${describeState(state)}` };
  }
  if (state.state === 'crashed') return { state: 'Failed', reason: `the domain ${describeState(state)}` };
  return { state: 'Running' };
}

export class LibvirtVmHost implements VmHost {
  readonly adoptsReportedVms = false;
  readonly resyncMs: number;
  private readonly emptyDisks: EmptyDiskPool;

  constructor(private readonly options: LibvirtVmHostOptions) {
    this.resyncMs = options.resyncMs ?? 5_000;
    this.emptyDisks = new EmptyDiskPool(options.uri, options.emptyDiskDir ?? DEFAULT_EMPTY_DISK_DIR);
  }

  async list(): Promise<VmInfo[]> {
    const names = (await virsh(this.options.uri, ['list', '--all', '--name'])).split('\n').map((l) => l.trim()).filter(Boolean);
    // The pool exists before any migration may need it here; disks of VMs that left are deleted.
    await this.emptyDisks.collect(new Set(names)).catch((error: unknown) => (this.options.log ?? silentLog).warn({ node: this.options.node, err: String(error) }, 'emptyDisk pool not usable'));
    const infos = await Promise.all(names.filter((n) => n.includes('_')).map((n) => this.get(keyOf(n))));
    return infos.filter((i): i is VmInfo => i !== undefined);
  }

  async get(key: string): Promise<VmInfo | undefined> {
    const domain = domainOf(key);
    const uid = await this.uidOf(domain);
    if (!uid) return undefined;
    const state = await readDomainState(this.options.uri, domain);
    const mapped = state && vmState(state);
    return mapped ? { key, uid, ...mapped } : undefined;
  }

  async start(vmi: VirtualMachineInstance, pvcDisks: PvcDisks = {}): Promise<void> {
    const domain = vmDomainName(vmi);
    const state = await readDomainState(this.options.uri, domain);
    if (state === undefined) {
      this.forgetDeadline(domain); // of an earlier VMI of this name, if an agent died before undefining
      // libvirt appends to a domain's console file: a VMI made again under an earlier one's name
      // would show that guest's lines in `kubectl migrate console`. A first start begins a new file.
      rmSync(join(this.options.consoleReadDir ?? this.options.consoleDir, `${domain}-console.log`), { force: true });
      const disks = await this.prepareDisks(vmi, domain, pvcDisks);
      const xml = vmDomainXml(vmi, { domainType: this.options.domainType, consoleFile: join(this.options.consoleDir, `${domain}-console.log`), disks });
      const file = join(this.options.stateDir, 'domains', `${domain}.xml`);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, xml);
      await virsh(this.options.uri, ['define', file]);
    } else {
      const uid = await this.uidOf(domain);
      if (uid !== vmi.metadata.uid) throw new Error(`domain ${domain} exists and is not this VMI's (uid ${uid ?? 'none'})`);
      if (vmState(state) !== undefined) return; // it ran already: never a second start
    }
    await virsh(this.options.uri, ['start', domain], { timeoutMs: 60_000 });
  }

  async console(vmi: VirtualMachineInstance): Promise<string | undefined> {
    const domain = vmDomainName(vmi);
    const file = join(this.options.consoleReadDir ?? this.options.consoleDir, `${domain}-console.log`);
    if (!existsSync(file)) return undefined;
    const size = statSync(file).size;
    const fd = openSync(file, 'r');
    try {
      const length = Math.min(size, CONSOLE_MAX_BYTES);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      return buffer.toString('utf8');
    } finally {
      closeSync(fd);
    }
  }

  async adopt(): Promise<void> {
    throw new Error('libvirt VMs are rediscovered from their domains, never adopted from a VMI');
  }

  async shutdown(key: string, deadlineMs: number): Promise<'gone' | 'stopping'> {
    const domain = domainOf(key);
    const state = await readDomainState(this.options.uri, domain);
    if (state === undefined) {
      this.forgetDeadline(domain);
      return 'gone';
    }
    if (state.state === 'shut off' || state.state === 'crashed') {
      await this.undefine(domain);
      return 'gone';
    }
    const step = shutdownStep(this.recordedDeadline(domain), deadlineMs, Date.now());
    const log = this.options.log ?? silentLog;
    const fields = { node: this.options.node, domain, deadline: new Date(step.deadlineMs).toISOString() };
    if (step.record) this.recordDeadline(domain, step.deadlineMs);
    // ACPI; a guest that ignores it is destroyed at the deadline.
    if (step.requestGuestShutdown) {
      log.info(fields, 'guest asked to shut down (ACPI); destroyed at the deadline if it has not');
      await virsh(this.options.uri, ['shutdown', domain]).catch(() => undefined);
    }
    if (step.destroy) {
      log.info(fields, 'shutdown deadline reached: destroying the domain');
      await this.destroy(domain);
    }
    return 'stopping';
  }

  async release(key: string): Promise<void> {
    const domain = domainOf(key);
    const state = await readDomainState(this.options.uri, domain);
    if (state === undefined) {
      await this.emptyDisks.removeOf(domain); // it left with --undefinesource: its copied disks stay here
      return;
    }
    if (state.state !== 'shut off') await this.destroy(domain);
    await this.undefine(domain);
  }

  private async uidOf(domain: string): Promise<string | undefined> {
    try {
      return parseVmiUid(await virsh(this.options.uri, ['metadata', domain, VMI_METADATA_URI]));
    } catch (error) {
      const kind = error instanceof VirshError ? classifyLibvirtError(error.libvirtMessage) : 'other';
      if (kind === 'no-metadata' || kind === 'domain-not-found') return undefined;
      throw error;
    }
  }

  private async destroy(domain: string): Promise<void> {
    try {
      await virsh(this.options.uri, ['destroy', domain]);
    } catch (error) {
      // Already off, or gone: what destroy wanted.
      if (error instanceof VirshError && (classifyLibvirtError(error.libvirtMessage) === 'domain-not-found' || /domain is not running/.test(error.libvirtMessage))) return;
      throw error;
    }
  }

  private async undefine(domain: string): Promise<void> {
    try {
      await virsh(this.options.uri, ['undefine', domain]);
    } catch (error) {
      if (!(error instanceof VirshError && classifyLibvirtError(error.libvirtMessage) === 'domain-not-found')) throw error;
    }
    this.forgetDeadline(domain);
    await this.emptyDisks.removeOf(domain);
  }

  private deadlineFile(domain: string): string {
    return join(this.options.stateDir, 'shutdowns', domain);
  }

  private recordedDeadline(domain: string): number | undefined {
    const file = this.deadlineFile(domain);
    if (!existsSync(file)) return undefined;
    const ms = Date.parse(readFileSync(file, 'utf8').trim());
    return Number.isNaN(ms) ? undefined : ms;
  }

  /** Written whole (rename), so a kill mid-write leaves the old deadline or the new one. */
  private recordDeadline(domain: string, deadlineMs: number): void {
    const file = this.deadlineFile(domain);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, `${new Date(deadlineMs).toISOString()}\n`);
    renameSync(`${file}.tmp`, file);
  }

  private forgetDeadline(domain: string): void {
    rmSync(this.deadlineFile(domain), { force: true });
  }

  /**
   * hostDisk (DiskOrCreate: a sparse raw file), a PVC's disk.img (created sparse at the claim's size
   * when absent, as KubeVirt does) and emptyDisk (a qcow2 of its capacity) as domain disks.
   */
  private async prepareDisks(vmi: VirtualMachineInstance, domain: string, pvcDisks: PvcDisks): Promise<DomainDisk[]> {
    const volumes = vmi.spec?.volumes ?? [];
    const devices = (vmi.spec?.domain as { devices?: { disks?: Array<{ name: string; disk?: { bus?: string }; bootOrder?: number }> } } | undefined)?.devices;
    const disks = [...(devices?.disks ?? [])].sort((x, y) => (x.bootOrder ?? Number.MAX_SAFE_INTEGER) - (y.bootOrder ?? Number.MAX_SAFE_INTEGER));
    const out: DomainDisk[] = [];
    for (const disk of disks) {
      const volume = volumes.find((v) => v.name === disk.name);
      const bus = disk.disk?.bus === 'sata' ? 'sata' : 'virtio';
      const hostDisk = volume?.hostDisk as { path?: string; type?: string; capacity?: string } | undefined;
      const emptyDisk = volume?.emptyDisk as { capacity?: string } | undefined;
      const pvc = pvcDisks[disk.name];
      if (hostDisk?.path) {
        if (hostDisk.type === 'DiskOrCreate') createSparse(hostDisk.path, hostDisk.capacity);
        out.push({ name: disk.name, file: hostDisk.path, format: 'raw', bus });
      } else if (pvc) {
        createSparse(pvc.file, pvc.capacity);
        out.push({ name: disk.name, file: pvc.file, format: 'raw', bus, shared: pvc.shared });
      } else if (emptyDisk) {
        const file = await this.emptyDisks.create(domain, disk.name, parseQuantity(emptyDisk.capacity ?? '0'));
        out.push({ name: disk.name, file, format: 'qcow2', bus });
      } else {
        throw new Error(`volume ${disk.name}: only persistentVolumeClaim, hostDisk and emptyDisk volumes are run by the libvirt driver`);
      }
    }
    return out;
  }
}

/** A raw disk of `capacity` (whole MiB, sparse) at `file` unless one is there. */
function createSparse(file: string, capacity: string | undefined): void {
  if (existsSync(file)) return;
  mkdirSync(dirname(file), { recursive: true });
  const fd = openSync(file, 'w');
  try {
    ftruncateSync(fd, Math.floor(parseQuantity(capacity ?? '0') / 2 ** 20) * 2 ** 20);
  } finally {
    closeSync(fd);
  }
}
