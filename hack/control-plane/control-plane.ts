// A real kube-apiserver + etcd on loopback, the way controller-runtime's envtest runs them:
// free ports, fresh certificates, RBAC on, CRDs installed and Established before it reports ready.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, openSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CRD_DIR } from '../../api/generated-files.js';
import { CRDS } from '../../api/crds.js';
import { ensureBinaries, type Binaries } from './binaries.js';
import { freePort } from './ports.js';
import { createControlPlanePki, readPem, type Pki } from './pki.js';

export const TEMP_PREFIX = 'live-migration-cp-';

/** Everything needed to use and to stop a running control plane; plain JSON so another process can stop it. */
export interface ControlPlaneState {
  server: string;
  kubeconfig: string;
  workDir: string;
  pids: number[];
  caCert: string;
  adminCert: string;
  adminKey: string;
  binaries: Binaries;
  startedAt: string;
  timings: { binariesMs: number; pkiMs: number; etcdMs: number; apiserverMs: number; crdsMs: number; totalMs: number };
}

export interface StartOptions {
  /** Where the admin kubeconfig is written (default: inside the work dir). */
  kubeconfigPath?: string;
  /** Where etcd and kube-apiserver logs go (default: the work dir). */
  logDir?: string;
  /**
   * When set, a reaper ends the control plane and removes its work dir once this process is gone,
   * so a test runner killed before its teardown leaves nothing behind.
   */
  ownerPid?: number;
}

/** A detached shell that waits for the owner to exit, then cleans up what it left. */
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

function kubeconfigYaml(server: string, pki: Pki): string {
  const b64 = (path: string) => Buffer.from(readPem(path)).toString('base64');
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'local', cluster: { server, 'certificate-authority-data': b64(pki.caCert) } }],
      users: [{ name: 'admin', user: { 'client-certificate-data': b64(pki.adminCert), 'client-key-data': b64(pki.adminKey) } }],
      contexts: [{ name: 'local', context: { cluster: 'local', user: 'admin', namespace: 'default' } }],
      'current-context': 'local',
    },
    null,
    2,
  );
}

function startProcess(binary: string, args: string[], logFile: string): number {
  const log = openSync(logFile, 'a');
  // Own process group, so stop can end it and anything it started; stdio to a file so the
  // process may outlive `npm run local -- up`.
  const child = spawn(binary, args, { detached: true, stdio: ['ignore', log, log] });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${binary}`);
  return child.pid;
}

/** Whether a process still exists (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, deadlineMs: number, pids: number[], logFile: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (pids.some((pid) => !isAlive(pid))) throw new Error(`${what} exited during start-up; see ${logFile}`);
    if (await probe().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what} not ready after ${deadlineMs} ms; see ${logFile}`);
}

function httpsOk(url: string, pki: Pki): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      url,
      { ca: readPem(pki.caCert), cert: readPem(pki.adminCert), key: readPem(pki.adminKey), timeout: 2000 },
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

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.ok;
}

export async function startControlPlane(options: StartOptions = {}): Promise<ControlPlaneState> {
  const t0 = Date.now();
  const binaries = ensureBinaries();
  const tBinaries = Date.now();
  const workDir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
  const pids: number[] = [];
  try {
    const logDir = options.logDir ?? workDir;
    mkdirSync(logDir, { recursive: true });
    const pki = createControlPlanePki(workDir);
    const tPki = Date.now();

    const [etcdClient, etcdPeer, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const etcdLog = join(logDir, 'etcd.log');
    pids.push(
      startProcess(
        binaries.etcd,
        [
          '--name=local',
          `--data-dir=${join(workDir, 'etcd')}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-cluster=local=http://127.0.0.1:${etcdPeer}`,
          // A throwaway store for tests and demos: durability is not worth an fsync per write.
          '--unsafe-no-fsync',
          '--log-level=warn',
        ],
        etcdLog,
      ),
    );
    await waitFor('etcd', 30_000, pids, etcdLog, () => httpOk(`${etcdUrl}/health`));
    const tEtcd = Date.now();

    const server = `https://127.0.0.1:${apiPort}`;
    const apiLog = join(logDir, 'kube-apiserver.log');
    pids.push(
      startProcess(
        binaries.kubeApiserver,
        [
          `--etcd-servers=${etcdUrl}`,
          `--secure-port=${apiPort}`,
          '--bind-address=127.0.0.1',
          '--advertise-address=127.0.0.1',
          `--cert-dir=${join(workDir, 'apiserver-certs')}`,
          `--tls-cert-file=${pki.servingCert}`,
          `--tls-private-key-file=${pki.servingKey}`,
          `--client-ca-file=${pki.caCert}`,
          `--service-account-key-file=${pki.serviceAccountPub}`,
          `--service-account-signing-key-file=${pki.serviceAccountKey}`,
          '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
          '--service-cluster-ip-range=10.0.0.0/24',
          '--authorization-mode=RBAC',
          '--allow-privileged=true',
          // No controller-manager runs here; nothing reconciles endpoints.
          '--endpoint-reconciler-type=none',
          '--profiling=false',
          '--v=1',
        ],
        apiLog,
      ),
    );
    await waitFor('kube-apiserver', 60_000, pids, apiLog, () => httpsOk(`${server}/readyz`, pki));
    const tApi = Date.now();

    const kubeconfig = options.kubeconfigPath ?? join(workDir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigYaml(server, pki), { mode: 0o600 });
    installCrds(binaries.kubectl, kubeconfig);
    const tCrds = Date.now();
    // The reaper is the last pid: stop ends it first, so it never races a normal stop.
    if (options.ownerPid !== undefined) pids.push(startReaper(options.ownerPid, [...pids], workDir));

    return {
      server,
      kubeconfig,
      workDir,
      pids,
      caCert: pki.caCert,
      adminCert: pki.adminCert,
      adminKey: pki.adminKey,
      binaries,
      startedAt: new Date(t0).toISOString(),
      timings: {
        binariesMs: tBinaries - t0,
        pkiMs: tPki - tBinaries,
        etcdMs: tEtcd - tPki,
        apiserverMs: tApi - tEtcd,
        crdsMs: tCrds - tApi,
        totalMs: tCrds - t0,
      },
    };
  } catch (error) {
    await stopProcesses(pids);
    rmSync(workDir, { recursive: true, force: true });
    throw error;
  }
}

function installCrds(kubectl: string, kubeconfig: string): void {
  const run = (args: string[]) => {
    try {
      execFileSync(kubectl, ['--kubeconfig', kubeconfig, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
      throw new Error(`kubectl ${args.join(' ')} failed: ${stderr || String(error)}`);
    }
  };
  run(['apply', '--server-side', '-f', CRD_DIR]);
  run(['wait', '--for=condition=Established', '--timeout=30s', ...CRDS.map((crd) => `crd/${crd.metadata.name}`)]);
}

async function stopProcesses(pids: number[]): Promise<void> {
  // In reverse start order: the reaper, then the API server, then etcd; SIGKILL after a grace period.
  for (const pid of [...pids].reverse()) {
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 10_000;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(50);
  for (const pid of pids.filter(isAlive)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Ends every process the control plane started and removes its work dir. Safe to call twice. */
export async function stopControlPlane(state: Pick<ControlPlaneState, 'pids' | 'workDir'>): Promise<void> {
  await stopProcesses(state.pids);
  if (existsSync(state.workDir)) rmSync(state.workDir, { recursive: true, force: true });
}
