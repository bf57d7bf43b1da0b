// Stop kube-apiserver + etcd of a running local control plane and start them again on the same
// data dir, ports and certificates (the chaos benchmark's "API server outage"). The command lines
// are read back from /proc, so they are exactly what control-plane.ts started; the logs are
// appended to the same files. Linux only (/proc), as the rest of the harness.
import { spawn } from 'node:child_process';
import { openSync, readFileSync, readlinkSync } from 'node:fs';
import { request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive, type ControlPlaneState } from './control-plane.js';

export interface StoppedProcess {
  argv: string[];
  logFile: string;
}

export interface StoppedControlPlane {
  etcd: StoppedProcess;
  apiserver: StoppedProcess;
  /** Whether the state had a reaper (it is replaced by one that knows the new pids). */
  reaperOwner?: number;
}

function capture(pid: number): StoppedProcess {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a.length > 0);
  return { argv, logFile: readlinkSync(`/proc/${pid}/fd/1`) };
}

async function end(pid: number, graceMs: number): Promise<void> {
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  while (isAlive(pid)) await sleep(20);
}

function respawn(process_: StoppedProcess): number {
  const [binary, ...args] = process_.argv;
  if (!binary) throw new Error('empty command line');
  const log = openSync(process_.logFile, 'a');
  const child = spawn(binary, args, { detached: true, stdio: ['ignore', log, log] });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${binary}`);
  return child.pid;
}

/** The reaper control-plane.ts starts: a `sh -c` that waits for its owner (the pid after `kill -0`). */
function reaperOwner(pid: number): number | undefined {
  try {
    const script = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const match = /kill -0 (\d+)/.exec(script);
    return match?.[1] ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

function startReaper(ownerPid: number, pids: number[], workDir: string): number {
  const groups = pids.map((pid) => `-${pid}`).join(' ');
  const script =
    `while kill -0 ${ownerPid} 2>/dev/null; do sleep 1; done; ` +
    `kill -TERM ${groups} 2>/dev/null; sleep 5; kill -KILL ${groups} 2>/dev/null; rm -rf '${workDir}'`;
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  child.unref();
  if (child.pid === undefined) throw new Error('could not start the control-plane reaper');
  return child.pid;
}

/** Stops the API server, then etcd (SIGTERM, SIGKILL after `graceMs`); their data stays. */
export async function stopApiServerAndEtcd(state: ControlPlaneState, graceMs = 10_000): Promise<StoppedControlPlane> {
  const [etcdPid, apiPid, reaperPid] = state.pids;
  if (etcdPid === undefined || apiPid === undefined) throw new Error('control plane state has no etcd/apiserver pids');
  const stopped: StoppedControlPlane = { etcd: capture(etcdPid), apiserver: capture(apiPid) };
  if (reaperPid !== undefined) {
    stopped.reaperOwner = reaperOwner(reaperPid);
    // The old reaper would kill pids that may be reused; a new one is started with the new pids.
    await end(reaperPid, 1000);
  }
  await end(apiPid, graceMs);
  await end(etcdPid, graceMs);
  return stopped;
}

function flag(argv: string[], name: string): string {
  const value = argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  if (value === undefined) throw new Error(`--${name} not in ${argv.join(' ')}`);
  return value;
}

async function until(what: string, pid: number, deadlineMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) throw new Error(`${what} exited while starting again`);
    if (await probe().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what} not ready ${deadlineMs} ms after a restart`);
}

function readyz(state: ControlPlaneState): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      `${state.server}/readyz`,
      { ca: readFileSync(state.caCert), cert: readFileSync(state.adminCert), key: readFileSync(state.adminKey), timeout: 2000 },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Starts etcd and the API server again as they were; `state.pids` is updated in place. */
export async function startApiServerAndEtcd(state: ControlPlaneState, stopped: StoppedControlPlane): Promise<void> {
  const etcdPid = respawn(stopped.etcd);
  state.pids = [etcdPid]; // so a stop after a failed start still ends it
  const etcdUrl = flag(stopped.etcd.argv, 'listen-client-urls');
  await until('etcd', etcdPid, 30_000, async () => (await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(2000) })).ok);
  const apiPid = respawn(stopped.apiserver);
  state.pids = [etcdPid, apiPid];
  await until('kube-apiserver', apiPid, 60_000, () => readyz(state));
  if (stopped.reaperOwner !== undefined) state.pids.push(startReaper(stopped.reaperOwner, [etcdPid, apiPid], state.workDir));
}
