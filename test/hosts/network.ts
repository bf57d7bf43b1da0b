// The hosts' network: one network namespace per host, joined by a veth pair that is created inside
// them, so the 10.x addresses exist only there and nothing of it is visible in the root namespace.
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { NETNS_PREFIX, toolEnv } from './paths.js';

/** The in-namespace interface of every host (one per namespace, so the same name never collides). */
export const HOST_INTERFACE = 'lm0';
const SUBNET = '10.200.0';

export interface HostNetwork {
  netns: string;
  address: string;
  /** Inode of the namespace: a process still holding it is a leftover even after the name is gone. */
  netnsInode: number;
}

export function netnsName(runId: string, host: string): string {
  return `${NETNS_PREFIX}${runId}-${host}`;
}

export function ip(args: string[]): string {
  try {
    return execFileSync('ip', args, { env: toolEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`ip ${args.join(' ')} failed: ${stderr || String(error)}`);
  }
}

/**
 * Creates the namespaces of a run, in `hosts` order: host i gets 10.200.0.(i+1)/24. One host stands
 * alone; two are joined by a veth pair (a third would need a bridge: add it when a test needs one).
 */
export function createHostNetworks(runId: string, hosts: readonly string[]): HostNetwork[] {
  if (hosts.length < 1 || hosts.length > 2) throw new Error(`test hosts: 1 or 2 hosts are supported, not ${hosts.length}`);
  const networks = hosts.map((host, i) => ({ netns: netnsName(runId, host), address: `${SUBNET}.${i + 1}`, netnsInode: 0 }));
  for (const network of networks) {
    ip(['netns', 'add', network.netns]);
    network.netnsInode = statSync(`/run/netns/${network.netns}`).ino;
    ip(['-n', network.netns, 'link', 'set', 'lo', 'up']);
  }
  const [a, b] = networks;
  if (a && b) {
    // Born inside A with its peer born inside B: the pair never exists in the root namespace.
    ip(['-n', a.netns, 'link', 'add', HOST_INTERFACE, 'type', 'veth', 'peer', 'name', HOST_INTERFACE, 'netns', b.netns]);
  }
  if (networks.length > 1) {
    for (const network of networks) {
      ip(['-n', network.netns, 'addr', 'add', `${network.address}/24`, 'dev', HOST_INTERFACE]);
      ip(['-n', network.netns, 'link', 'set', HOST_INTERFACE, 'up']);
    }
  } else if (a) {
    // A lone host still needs its address for libvirtd's TCP listener.
    ip(['-n', a.netns, 'addr', 'add', `${a.address}/32`, 'dev', 'lo']);
  }
  return networks;
}
