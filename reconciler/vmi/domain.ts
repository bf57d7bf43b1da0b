// Narrow, defensive readers for the parts of a VMI spec the API types keep opaque (`domain`,
// `networks`). The VMI is stored as the user wrote it, so every field may be missing or mistyped:
// anything unexpected reads as absent rather than throwing.

/** How an interface connects to its network; 'other' covers binding plugins and unknown kinds. */
export type InterfaceBinding = 'masquerade' | 'bridge' | 'slirp' | 'sriov' | 'other';

export interface DomainInterface {
  name: string;
  binding: InterfaceBinding;
}

export interface PassthroughDevice {
  name: string;
  deviceName?: string;
}

export interface DomainDevices {
  interfaces: DomainInterface[];
  hostDevices: PassthroughDevice[];
  gpus: PassthroughDevice[];
}

export interface VmiNetwork {
  name: string;
  /** The pod network (`networks[].pod`), as opposed to multus networks. */
  pod: boolean;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectsIn(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

function stringIn(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

const BINDINGS: ReadonlyArray<Exclude<InterfaceBinding, 'other'>> = ['masquerade', 'bridge', 'slirp', 'sriov'];

function bindingOf(iface: Json): InterfaceBinding {
  return BINDINGS.find((kind) => iface[kind] !== undefined) ?? 'other';
}

function passthrough(value: unknown): PassthroughDevice[] {
  return objectsIn(value).map((d, index) => {
    const deviceName = stringIn(d.deviceName);
    return { name: stringIn(d.name) ?? `#${index + 1}`, ...(deviceName ? { deviceName } : {}) };
  });
}

export function readDomainDevices(spec: Readonly<Record<string, unknown>> | undefined): DomainDevices {
  const devices = isObject(spec?.domain) && isObject(spec.domain.devices) ? spec.domain.devices : {};
  return {
    interfaces: objectsIn(devices.interfaces).flatMap((iface) => {
      const name = stringIn(iface.name);
      return name === undefined ? [] : [{ name, binding: bindingOf(iface) }];
    }),
    hostDevices: passthrough(devices.hostDevices),
    gpus: passthrough(devices.gpus),
  };
}

export function readNetworks(spec: Readonly<Record<string, unknown>> | undefined): VmiNetwork[] {
  return objectsIn(spec?.networks).flatMap((network) => {
    const name = stringIn(network.name);
    return name === undefined ? [] : [{ name, pod: network.pod !== undefined }];
  });
}


// Guest memory is read by the agent too, so it lives in api/.
export { readGuestMemoryBytes } from '../../api/guest-memory.js';
