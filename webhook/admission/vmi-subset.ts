// The VMI subset this system runs, as a pure check of a VMI's spec: every field outside it is
// named with "not supported yet"; a field inside it with a bad value is named with the reason.
// KubeVirt's field names throughout. How a guest boots (KubeVirt has no field for a kernel on a
// node path): the annotations `live-migration.io/kernel`, `live-migration.io/initrd` (absolute
// paths on the node) and `live-migration.io/kernel-args`; without them, from the first disk.
// VMIs run by someone else (`live-migration.io/placement: external`) are not checked.
import { parseQuantity, QuantityError } from '../../api/quantity.js';
import { EVICTION_STRATEGIES } from '../../api/schemas/vmi.js';
import { checkTolerations } from './vmi-tolerations.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export const KERNEL_ANNOTATION = 'live-migration.io/kernel';
export const INITRD_ANNOTATION = 'live-migration.io/initrd';
export const KERNEL_ARGS_ANNOTATION = 'live-migration.io/kernel-args';

const SUPPORTED_BUSES = ['virtio', 'sata'];
const VOLUME_SOURCES = ['persistentVolumeClaim', 'hostDisk', 'emptyDisk'];
const HOST_DISK_TYPES = ['Disk', 'DiskOrCreate'];

export interface SubsetProblem {
  field: string;
  problem: string;
}

const notSupported = (field: string): SubsetProblem => ({ field, problem: 'not supported yet' });

/** Keys of `object` outside `allowed`, each named as not supported. */
function onlyKeys(object: Json, path: string, allowed: readonly string[], out: SubsetProblem[]): void {
  for (const key of Object.keys(object)) if (!allowed.includes(key)) out.push(notSupported(`${path}.${key}`));
}

function quantity(value: unknown, field: string, out: SubsetProblem[]): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' && typeof value !== 'number') {
    out.push({ field, problem: 'must be a quantity such as 1Gi' });
    return undefined;
  }
  try {
    const bytes = parseQuantity(value);
    if (bytes <= 0) out.push({ field, problem: `must be positive (got ${String(value)})` });
    return bytes;
  } catch (error) {
    if (!(error instanceof QuantityError)) throw error;
    out.push({ field, problem: `${error.message}` });
    return undefined;
  }
}

function positiveInteger(value: unknown, field: string, out: SubsetProblem[]): void {
  if (value !== undefined && !(typeof value === 'number' && Number.isInteger(value) && value > 0)) out.push({ field, problem: `must be a positive integer (got ${JSON.stringify(value)})` });
}

function checkDomain(domain: unknown, out: SubsetProblem[]): string[] {
  if (!isObject(domain)) {
    out.push({ field: 'spec.domain', problem: 'is required' });
    return [];
  }
  onlyKeys(domain, 'spec.domain', ['memory', 'resources', 'cpu', 'devices'], out);
  let memory: number | undefined;
  if (domain.memory !== undefined) {
    if (!isObject(domain.memory)) out.push({ field: 'spec.domain.memory', problem: 'must be an object' });
    else {
      onlyKeys(domain.memory, 'spec.domain.memory', ['guest'], out);
      memory = quantity(domain.memory.guest, 'spec.domain.memory.guest', out);
    }
  }
  if (domain.resources !== undefined) {
    if (!isObject(domain.resources)) out.push({ field: 'spec.domain.resources', problem: 'must be an object' });
    else {
      onlyKeys(domain.resources, 'spec.domain.resources', ['requests'], out);
      const requests = domain.resources.requests;
      if (isObject(requests)) {
        onlyKeys(requests, 'spec.domain.resources.requests', ['memory'], out);
        memory ??= quantity(requests.memory, 'spec.domain.resources.requests.memory', out);
      } else if (requests !== undefined) out.push({ field: 'spec.domain.resources.requests', problem: 'must be an object' });
    }
  }
  if (memory === undefined && !out.some((p) => p.field.includes('memory'))) {
    out.push({ field: 'spec.domain.memory.guest', problem: 'is required (or spec.domain.resources.requests.memory)' });
  }
  if (domain.cpu !== undefined) {
    if (!isObject(domain.cpu)) out.push({ field: 'spec.domain.cpu', problem: 'must be an object' });
    else {
      onlyKeys(domain.cpu, 'spec.domain.cpu', ['sockets', 'cores', 'threads'], out);
      for (const key of ['sockets', 'cores', 'threads']) positiveInteger(domain.cpu[key], `spec.domain.cpu.${key}`, out);
    }
  }
  const devices = domain.devices;
  if (devices === undefined) return [];
  if (!isObject(devices)) {
    out.push({ field: 'spec.domain.devices', problem: 'must be an object' });
    return [];
  }
  onlyKeys(devices, 'spec.domain.devices', ['disks', 'autoattachSerialConsole'], out);
  if (devices.autoattachSerialConsole !== undefined && devices.autoattachSerialConsole !== true) {
    out.push({ field: 'spec.domain.devices.autoattachSerialConsole', problem: 'only true is supported yet (the serial console is always attached)' });
  }
  const disks = Array.isArray(devices.disks) ? devices.disks : [];
  if (devices.disks !== undefined && !Array.isArray(devices.disks)) out.push({ field: 'spec.domain.devices.disks', problem: 'must be a list' });
  return disks.map((disk, i) => {
    const path = `spec.domain.devices.disks[${i}]`;
    if (!isObject(disk) || typeof disk.name !== 'string' || disk.name === '') {
      out.push({ field: `${path}.name`, problem: 'is required' });
      return '';
    }
    onlyKeys(disk, path, ['name', 'disk', 'bootOrder', 'serial'], out);
    if (isObject(disk.disk)) {
      onlyKeys(disk.disk, `${path}.disk`, ['bus'], out);
      const bus = disk.disk.bus;
      if (bus !== undefined && !SUPPORTED_BUSES.includes(String(bus))) out.push({ field: `${path}.disk.bus`, problem: `${JSON.stringify(bus)} is not supported yet (supported: ${SUPPORTED_BUSES.join(', ')})` });
    } else if (disk.disk !== undefined) out.push({ field: `${path}.disk`, problem: 'must be an object' });
    positiveInteger(disk.bootOrder, `${path}.bootOrder`, out);
    return disk.name;
  });
}

function checkVolume(volume: unknown, i: number, out: SubsetProblem[]): string {
  const path = `spec.volumes[${i}]`;
  if (!isObject(volume) || typeof volume.name !== 'string' || volume.name === '') {
    out.push({ field: `${path}.name`, problem: 'is required' });
    return '';
  }
  const sources = Object.keys(volume).filter((k) => k !== 'name');
  for (const key of sources) if (!VOLUME_SOURCES.includes(key)) out.push({ field: `${path}.${key}`, problem: `not supported yet (supported volume sources: ${VOLUME_SOURCES.join(', ')})` });
  if (sources.length !== 1) out.push({ field: path, problem: `must have exactly one source (has ${sources.length})` });
  const pvc = volume.persistentVolumeClaim;
  if (isObject(pvc)) {
    onlyKeys(pvc, `${path}.persistentVolumeClaim`, ['claimName', 'readOnly'], out);
    if (typeof pvc.claimName !== 'string' || pvc.claimName === '') out.push({ field: `${path}.persistentVolumeClaim.claimName`, problem: 'is required' });
  }
  const hostDisk = volume.hostDisk;
  if (isObject(hostDisk)) {
    onlyKeys(hostDisk, `${path}.hostDisk`, ['path', 'type', 'capacity', 'shared'], out);
    if (typeof hostDisk.path !== 'string' || !hostDisk.path.startsWith('/')) out.push({ field: `${path}.hostDisk.path`, problem: 'must be an absolute path' });
    if (!HOST_DISK_TYPES.includes(String(hostDisk.type))) out.push({ field: `${path}.hostDisk.type`, problem: `must be one of ${HOST_DISK_TYPES.join(', ')}` });
    if (hostDisk.capacity !== undefined && hostDisk.type !== 'DiskOrCreate') out.push({ field: `${path}.hostDisk.capacity`, problem: 'only with type DiskOrCreate' });
    if (hostDisk.type === 'DiskOrCreate') {
      if (hostDisk.capacity === undefined) out.push({ field: `${path}.hostDisk.capacity`, problem: 'is required with type DiskOrCreate' });
      else quantity(hostDisk.capacity, `${path}.hostDisk.capacity`, out);
    }
    if (hostDisk.shared !== undefined && typeof hostDisk.shared !== 'boolean') out.push({ field: `${path}.hostDisk.shared`, problem: 'must be a boolean' });
  }
  const emptyDisk = volume.emptyDisk;
  if (isObject(emptyDisk)) {
    onlyKeys(emptyDisk, `${path}.emptyDisk`, ['capacity'], out);
    if (emptyDisk.capacity === undefined) out.push({ field: `${path}.emptyDisk.capacity`, problem: 'is required' });
    else quantity(emptyDisk.capacity, `${path}.emptyDisk.capacity`, out);
  }
  return volume.name;
}

function checkBoot(annotations: Readonly<Record<string, string>>, out: SubsetProblem[]): void {
  const kernel = annotations[KERNEL_ANNOTATION];
  const initrd = annotations[INITRD_ANNOTATION];
  for (const [key, value] of [[KERNEL_ANNOTATION, kernel], [INITRD_ANNOTATION, initrd]] as const) {
    if (value !== undefined && !value.startsWith('/')) out.push({ field: `metadata.annotations[${key}]`, problem: 'must be an absolute path on the node' });
  }
  if (kernel === undefined && (initrd !== undefined || annotations[KERNEL_ARGS_ANNOTATION] !== undefined)) {
    out.push({ field: `metadata.annotations[${KERNEL_ANNOTATION}]`, problem: `is required with ${initrd !== undefined ? INITRD_ANNOTATION : KERNEL_ARGS_ANNOTATION}` });
  }
}

/** Every problem of a VMI's spec against the subset; empty when it may run here. */
export function vmiSubsetProblems(vmi: unknown): SubsetProblem[] {
  const out: SubsetProblem[] = [];
  if (!isObject(vmi)) return [{ field: '', problem: 'not an object' }];
  const spec = vmi.spec;
  if (!isObject(spec)) return [{ field: 'spec', problem: 'is required' }];
  onlyKeys(spec, 'spec', ['domain', 'volumes', 'nodeSelector', 'affinity', 'tolerations', 'evictionStrategy', 'terminationGracePeriodSeconds'], out);
  checkTolerations(spec.tolerations, out);
  const strategy = spec.evictionStrategy;
  if (strategy !== undefined && !(EVICTION_STRATEGIES as readonly unknown[]).includes(strategy)) {
    out.push({ field: 'spec.evictionStrategy', problem: `must be one of ${EVICTION_STRATEGIES.join(', ')} (got ${JSON.stringify(strategy)})` });
  }
  if (isObject(spec.affinity)) {
    onlyKeys(spec.affinity, 'spec.affinity', ['nodeAffinity'], out);
    if (isObject(spec.affinity.nodeAffinity)) onlyKeys(spec.affinity.nodeAffinity, 'spec.affinity.nodeAffinity', ['requiredDuringSchedulingIgnoredDuringExecution'], out);
  }
  const grace = spec.terminationGracePeriodSeconds;
  if (grace !== undefined && !(typeof grace === 'number' && Number.isInteger(grace) && grace >= 0)) out.push({ field: 'spec.terminationGracePeriodSeconds', problem: 'must be a non-negative integer' });
  const disks = checkDomain(spec.domain, out);
  const volumes = Array.isArray(spec.volumes) ? spec.volumes.map((v, i) => checkVolume(v, i, out)) : [];
  // KubeVirt's rule: every disk has a volume of its name, and every volume a disk.
  disks.forEach((name, i) => {
    if (name && !volumes.includes(name)) out.push({ field: `spec.domain.devices.disks[${i}].name`, problem: `no volume named ${name}` });
  });
  volumes.forEach((name, i) => {
    if (name && !disks.includes(name)) out.push({ field: `spec.volumes[${i}].name`, problem: `no disk named ${name}` });
  });
  const metadata = isObject(vmi.metadata) ? vmi.metadata : {};
  const annotations = isObject(metadata.annotations) ? (metadata.annotations as Record<string, string>) : {};
  checkBoot(annotations, out);
  return out;
}

/** Admitted but worth saying: a VMI with nothing to boot from starts a guest that finds no OS. */
export function vmiSubsetWarnings(vmi: unknown): string[] {
  if (!isObject(vmi) || !isObject(vmi.spec)) return [];
  const metadata = isObject(vmi.metadata) ? vmi.metadata : {};
  const annotations = isObject(metadata.annotations) ? metadata.annotations : {};
  const domain = isObject(vmi.spec.domain) ? vmi.spec.domain : {};
  const devices = isObject(domain.devices) ? domain.devices : {};
  const disks = Array.isArray(devices.disks) ? devices.disks : [];
  if (annotations[KERNEL_ANNOTATION] === undefined && disks.length === 0) {
    return [`spec.domain.devices.disks: nothing to boot from (add a disk, or annotation ${KERNEL_ANNOTATION})`];
  }
  return [];
}
