// Checks on values that end up inside a URI or a command line: a migration destination (address and
// ports an agent answered), an agent endpoint, and the names a libvirt domain is made of. Each check
// answers the reason a value is refused, naming the field, or undefined when it is fine. Why here:
// the agent (before `virsh migrate`) and the reconciler (before it stores or forwards a target's
// answer) apply the same rules.
import { isIP } from 'node:net';

/** RFC 1123 label, as Kubernetes checks namespaces (and this project VMI names): at most 63 characters. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const PORT_TEXT = /^[0-9]{1,5}$/;

export function isDnsLabel(value: string): boolean {
  return DNS_LABEL.test(value);
}

/** A TCP port number, 1–65535. */
export function isPort(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= 65535;
}

/** A port given as text (a key of targetDirectMigrationNodePorts, a URL's port): digits only. */
export function portOf(text: string): number | undefined {
  if (!PORT_TEXT.test(text)) return undefined;
  const port = Number(text);
  return isPort(port) ? port : undefined;
}

/** `field` is a plain IP address (no host name, no brackets, no port, no zone). */
export function checkIpAddress(field: string, value: unknown): string | undefined {
  if (typeof value !== 'string' || isIP(value) === 0 || value.includes('%')) {
    return `${field}: must be an IPv4 or IPv6 address (got ${JSON.stringify(value)?.slice(0, 80)})`;
  }
  return undefined;
}

/**
 * A target's answer before it reaches a migration URI: the address is an IP, every key of the port
 * map is a port number and every value is 0 (the migration stream) or a port, and one port carries
 * the stream.
 */
export function checkMigrationDestination(
  address: unknown,
  ports: unknown,
  fields = { address: 'targetNodeAddress', ports: 'targetDirectMigrationNodePorts' },
): string | undefined {
  const badAddress = checkIpAddress(fields.address, address);
  if (badAddress) return badAddress;
  if (typeof ports !== 'object' || ports === null || Array.isArray(ports)) return `${fields.ports}: must be a map of port to port`;
  const entries = Object.entries(ports as Record<string, unknown>);
  if (entries.length === 0 || entries.length > 16) return `${fields.ports}: must list 1 to 16 ports (got ${entries.length})`;
  for (const [key, value] of entries) {
    if (portOf(key) === undefined) return `${fields.ports}: key ${JSON.stringify(key.slice(0, 20))} is not a port number 1-65535`;
    if (typeof value !== 'number' || !(value === 0 || isPort(value))) {
      return `${fields.ports}.${key}: must be 0 or a port number 1-65535 (got ${JSON.stringify(value)?.slice(0, 20)})`;
    }
  }
  if (!entries.some(([, value]) => value === 0)) return `${fields.ports}: no port is mapped to 0 (the migration stream)`;
  return undefined;
}

/** A VMI's namespace and name, before they become a libvirt domain name and a virsh argument. */
export function checkVmiName(vmi: { namespace: string; name: string }): string | undefined {
  if (!isDnsLabel(vmi.namespace)) return `vmi.namespace: must be a DNS label (lowercase letters, digits, '-', at most 63) (got ${JSON.stringify(vmi.namespace.slice(0, 80))})`;
  if (!isDnsLabel(vmi.name)) return `vmi.name: must be a DNS label (lowercase letters, digits, '-', at most 63) (got ${JSON.stringify(vmi.name.slice(0, 80))})`;
  return undefined;
}
