// Two (or one) libvirt "hosts" on this machine: each libvirtd in its own network, mount and UTS
// namespace with its own host_uuid, reachable from the root namespace only through its unix socket,
// and from the other host through its in-namespace address.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { saveCapabilities, seedCapabilities } from './capabilities-cache.js';
import { writeHostConfig } from './host-config.js';
import { tlsDir, writeHostTls } from './host-tls.js';
import { createHostNetworks, netnsName } from './network.js';
import { ENTER_HOST_SCRIPT, TEMP_PREFIX, assertHostPrerequisites, toolEnv } from './paths.js';
import { cleanup, startReaper, stopReaper } from './reaper.js';
import { virsh } from './virsh.js';

export interface TestHost {
  /** As given to startTestHosts; also the host's hostname inside its namespace. */
  name: string;
  netns: string;
  /** IPv4 address inside the namespace (10.200.0.x); not reachable from the root namespace. */
  address: string;
  /** libvirt URI for use from the root namespace (virsh -c, the agent's driver). */
  uri: string;
  /** libvirt's admin interface (virt-admin -c), through the run's directory. */
  adminUri: string;
  /**
   * What the OTHER hosts use to reach this one, e.g. as `virsh migrate --p2p [--tls] DOM <migrationUri>`:
   * `qemu+tls://<address>/system?pkipath=<the source's tlsDir>`, so it is only valid from the host
   * it was made for. Build one from another host with `peerUri(from, to)`.
   */
  migrationUri: string;
  /** The host's TLS files (QEMU's names and libvirt's client aliases); same path inside and out. */
  tlsDir: string;
  hostUuid: string;
  /** This host's directory: etc/, run/ (socket), log/ (libvirtd.log, qemu/<domain>.log, consoles). */
  dir: string;
  /** libvirtd's PID in the root PID namespace. */
  pid: number;
}

/** What stops a run from another process (e.g. `npm run local -- down`): plain data, JSON-safe. */
export interface TestHostsRecord {
  runId: string;
  dir: string;
  netns: string[];
  reaperPid: number;
}

export interface TestHosts {
  runId: string;
  /** The run's temp dir, `${tmpdir()}/live-migration-hosts-<runId>`; gone after stop(). */
  dir: string;
  hosts: TestHost[];
  /** Namespace inodes, for leftover checks after the names are deleted. */
  netnsInodes: number[];
  get(name: string): TestHost;
  /** For stopTestHostsRecord from another process. */
  record: TestHostsRecord;
  /** Ends every daemon and QEMU process, deletes namespaces and the temp dir. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * A rotation as a node would see one: a new CA, new certificates for every host, each file replaced
   * in place (rename) while the daemons run. Nothing is restarted or told.
   */
  rotateTls(): void;
  timings: { networkMs: number; daemonsMs: number; totalMs: number };
}

export interface StartTestHostsOptions {
  /** Host names, lower-case letters, digits and dashes; default ['a', 'b']. */
  hosts?: string[];
  /** Reap everything once this process is gone; default the calling process (a long-lived one keeps the hosts past it). */
  ownerPid?: number;
  /** How long each libvirtd may take to answer; default 60 s (a cold QEMU capability probe takes ~4.5 s). */
  readyTimeoutMs?: number;
}

const HOST_NAME = /^[a-z][a-z0-9-]{0,19}$/;

/** The URI a source libvirtd (whose host dir is `fromDir`) dials a peer at: TLS, the source's own client certificate. */
export function peerUri(fromDir: string, address: string): string {
  return `qemu+tls://${address}/system?pkipath=${tlsDir(fromDir)}`;
}

export async function startTestHosts(options: StartTestHostsOptions = {}): Promise<TestHosts> {
  const t0 = Date.now();
  const names = options.hosts ?? ['a', 'b'];
  for (const name of names) if (!HOST_NAME.test(name)) throw new Error(`test host name ${JSON.stringify(name)} must match ${HOST_NAME}`);
  if (new Set(names).size !== names.length) throw new Error(`test host names must be distinct: ${names.join(', ')}`);
  assertHostPrerequisites();

  const dir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
  const runId = basename(dir).slice(TEMP_PREFIX.length);
  const netns = names.map((name) => netnsName(runId, name));
  const reaperPid = startReaper(options.ownerPid ?? process.pid, dir, netns);
  const record: TestHostsRecord = { runId, dir, netns, reaperPid };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopTestHostsRecord(record);
  };

  try {
    const networks = createHostNetworks(runId, names);
    const tNetwork = Date.now();
    const peers = names.map((name, i) => ({ name, address: networks[i]!.address }));
    const issueTls = () => writeHostTls(dir, peers.map((peer) => ({ ...peer, dir: join(dir, peer.name) })));
    issueTls();
    const hosts = names.map((name, i): TestHost => {
      const network = networks[i]!;
      const hostDir = join(dir, name);
      const { hostUuid } = writeHostConfig({ dir: hostDir, address: network.address, peers });
      seedCapabilities(hostDir);
      const socket = join(hostDir, 'run', 'libvirt', 'libvirt-sock');
      // sockaddr_un holds 108 bytes; a long TMPDIR would make the daemon fail with a vague bind error.
      if (socket.length > 100) throw new Error(`libvirt socket path too long (${socket.length} > 100): ${socket}; use a shorter TMPDIR`);
      return {
        name,
        netns: network.netns,
        address: network.address,
        uri: `qemu+unix:///system?socket=${socket}`,
        adminUri: `libvirtd:///system?socket=${join(hostDir, 'run', 'libvirt', 'libvirt-admin-sock')}`,
        // From the other host (a run has at most two).
        migrationUri: peerUri(join(dir, names.find((other) => other !== name) ?? name), network.address),
        tlsDir: tlsDir(hostDir),
        hostUuid,
        dir: hostDir,
        pid: 0,
      };
    });
    // Daemons start in parallel: each probes QEMU's capabilities on a cold start.
    await Promise.all(hosts.map((host) => startDaemon(host, options.readyTimeoutMs ?? 60_000)));
    const tDaemons = Date.now();
    saveCapabilities(hosts[0]!.dir);
    return {
      runId,
      dir,
      hosts,
      netnsInodes: networks.map((network) => network.netnsInode),
      get(name: string) {
        const host = hosts.find((h) => h.name === name);
        if (!host) throw new Error(`no test host ${name} (have ${names.join(', ')})`);
        return host;
      },
      record,
      stop,
      rotateTls: issueTls,
      timings: { networkMs: tNetwork - t0, daemonsMs: tDaemons - tNetwork, totalMs: tDaemons - t0 },
    };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

/** What stop() does, for a run started by another process: every daemon and guest, the namespaces, the dir, the reaper. */
export async function stopTestHostsRecord(record: TestHostsRecord): Promise<void> {
  await cleanup(record.dir, record.netns);
  await stopReaper(record.reaperPid);
}

async function startDaemon(host: TestHost, readyTimeoutMs: number): Promise<void> {
  const out = join(host.dir, 'daemon.out');
  const log = openSync(out, 'a');
  // Every step exec()s the next, so the spawned PID ends up being libvirtd itself.
  const child = spawn('ip', ['netns', 'exec', host.netns, 'unshare', '--mount', '--uts', '--propagation', 'private', ENTER_HOST_SCRIPT, host.dir, host.name], {
    detached: true,
    stdio: ['ignore', log, log],
    env: toolEnv(),
  });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start libvirtd for host ${host.name}`);
  host.pid = child.pid;
  let exited: string | undefined;
  child.on('exit', (code, signal) => (exited = signal ?? `exit code ${code}`));
  const deadline = Date.now() + readyTimeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (exited) throw new Error(`libvirtd of host ${host.name} exited (${exited}) during start-up:\n${tail(out)}${tail(join(host.dir, 'log', 'libvirtd.log'))}`);
    try {
      await virsh(host, ['version'], { timeoutMs: 5_000 });
      return;
    } catch (error) {
      lastError = (error as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`libvirtd of host ${host.name} did not answer within ${readyTimeoutMs} ms (${lastError}):\n${tail(out)}`);
}

function tail(file: string, lines = 20): string {
  if (!existsSync(file)) return '';
  return `--- ${file}\n${readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n')}\n`;
}
