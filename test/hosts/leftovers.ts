// What a run (or, with no runId, any run) of the test hosts could leave behind: for teardown
// assertions and for a machine-wide check after a CI run. Reads /proc and /run only.
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST_INTERFACE, ip } from './network.js';
import { NETNS_PREFIX, TEMP_PREFIX, cacheDir } from './paths.js';

export interface LeftoverQuery {
  /** Only this run's leftovers (parallel runs are not yours to flag); omit for every run's. */
  runId?: string;
  /** The run's namespace inodes (TestHosts.netnsInodes): catches processes in a namespace whose name is gone. */
  netnsInodes?: readonly number[];
}

function readOr(path: string, fallback = ''): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** One line per leftover: namespaces, temp dirs, processes, mounts, root-namespace veths. Empty = clean. */
export function findLeftovers(query: LeftoverQuery = {}): string[] {
  const found: string[] = [];
  const runId = query.runId ?? '';
  const netnsPrefix = `${NETNS_PREFIX}${runId}`;
  const dirPrefix = `${TEMP_PREFIX}${runId}`;

  if (existsSync('/run/netns')) {
    for (const name of readdirSync('/run/netns')) if (name.startsWith(netnsPrefix)) found.push(`network namespace ${name}`);
  }
  for (const name of readdirSync(tmpdir())) if (name.startsWith(dirPrefix)) found.push(`temp dir ${join(tmpdir(), name)}`);

  const inodes = new Set((query.netnsInodes ?? []).map((inode) => `net:[${inode}]`));
  const guestImages = join(cacheDir(), 'guest') + '/';
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = readOr(`/proc/${entry}/cmdline`).split('\0').join(' ').trim();
    if (!cmdline) continue; // kernel thread, or already gone
    let netns = '';
    try {
      netns = readlinkSync(`/proc/${entry}/ns/net`);
    } catch {
      // gone meanwhile
    }
    const ours =
      cmdline.includes(dirPrefix) || inodes.has(netns) || (runId === '' && cmdline.includes('qemu-system') && cmdline.includes(guestImages));
    if (ours) found.push(`process ${entry}: ${cmdline.slice(0, 200)}`);
  }

  for (const line of readOr('/proc/self/mountinfo').split('\n')) {
    if (line.includes(dirPrefix) || line.includes(`/run/netns/${netnsPrefix}`)) found.push(`mount ${line}`);
  }
  // The veth pair is created inside the namespaces; one in the root namespace means something went wrong.
  const links = ip(['-o', 'link', 'show']);
  for (const line of links.split('\n')) if (new RegExp(`^\\d+: ${HOST_INTERFACE}[@:]`).test(line)) found.push(`root-namespace link ${line}`);
  return found;
}
