// What the libvirt driver's parts share: its options, its log, KubeVirt's domain naming, and
// `domstate` read without a job lock.
import type { VmiRef } from '../contract.js';
import { classifyLibvirtError, parseDomainState, type DomainState } from './parse.js';
import { virsh, VirshError } from './virsh.js';

/** libvirtd's TLS port (libvirt's default tls_port); peers never reach a plain-TCP listener. */
export const DEFAULT_LIBVIRT_PORT = 16514;
export const DEFAULT_MIGRATION_PORT_MIN = 49152;

export interface DriverLog {
  info(o: Record<string, unknown>, m: string): void;
  warn(o: Record<string, unknown>, m: string): void;
}

export interface LibvirtDriverOptions {
  nodeName: string;
  /** This node's libvirt, e.g. qemu:///system. */
  uri: string;
  /** The address other nodes' libvirtd reach this node's libvirtd at (its listen_addr). */
  migrationAddress: string;
  /** libvirtd's TLS port (tls_port); 16514. */
  libvirtPort?: number;
  /** QEMU's first incoming-migration port (qemu.conf migration_port_min); 49152. */
  migrationPortMin?: number;
  /**
   * The node's migration TLS dir (migration-tls.ts: QEMU's five files and libvirt's client names),
   * the same path for the agent, libvirtd and QEMU. Peers are always dialled at qemu+tls with it.
   */
  migrationTlsDir: string;
  /** libvirt's admin interface, for `server-update-tls` after a rotation; libvirtd:///system. */
  adminUri?: string;
  /** How often to look for rotated TLS files between migrations (tls-reload.ts); 30 s, 0 = never. */
  tlsPollMs?: number;
  /** Where the per-migration state files live. */
  stateDir: string;
  sampleIntervalMs?: number;
  /** How long abortMigration waits for libvirt's job to end before answering with an error. */
  abortWaitMs?: number;
  /** Last-resort bound on one virsh migrate (the reconciler's timeouts abort long before). */
  maxMigrationMs?: number;
  log?: DriverLog;
  now?: () => Date;
}

/** KubeVirt's domain name for a VMI. */
export function domainName(vmi: Pick<VmiRef, 'namespace' | 'name'>): string {
  return `${vmi.namespace}_${vmi.name}`;
}

export const silentLog: DriverLog = { info: () => {}, warn: () => {} };

/** `domstate --reason`; undefined when libvirt has no such domain. Other failures throw. */
export async function readDomainState(uri: string, domain: string): Promise<DomainState | undefined> {
  try {
    return parseDomainState(await virsh(uri, ['domstate', '--reason', domain]));
  } catch (error) {
    if (error instanceof VirshError && classifyLibvirtError(error.libvirtMessage) === 'domain-not-found') return undefined;
    throw error;
  }
}

/** "shut off (migrated)": the instant before --undefinesource removes a domain that left. */
export function isMigratedAway(state: DomainState): boolean {
  return state.state === 'shut off' && state.reason === 'migrated';
}

export function describe(state: DomainState): string {
  return state.reason ? `${state.state} (${state.reason})` : state.state;
}
