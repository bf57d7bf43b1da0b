// The local environment people use: control plane + the whole system with N simulated nodes, or
// with the two libvirt test hosts and an agent each (real QEMU, for the demo as root), recorded in .local/state.json so `down` (or the demo) finds what `up` started.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../api/generated-files.js';
import { isAlive, startControlPlane, stopControlPlane, type ControlPlaneState } from '../control-plane/control-plane.js';
import { startLocalSystem, stopLocalSystem, type LocalSystemOptions, type LocalSystemState } from '../system/local-system.js';
import { hostAgents, hostNodes, startLocalHosts, stopLocalHosts, type LocalHosts } from './real-hosts.js';

export const LOCAL_DIR = join(REPO_ROOT, '.local');
export const KUBECONFIG = join(LOCAL_DIR, 'kubeconfig');
const STATE_FILE = join(LOCAL_DIR, 'state.json');
const LOG_DIR = join(LOCAL_DIR, 'logs');

export interface LocalEnvironment {
  controlPlane: ControlPlaneState;
  system?: LocalSystemState;
  /** The libvirt hosts, when the nodes are real (upLocalEnvironment with realHosts). */
  hosts?: LocalHosts;
}

export function readLocalEnvironment(): LocalEnvironment | undefined {
  if (!existsSync(STATE_FILE)) return undefined;
  return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as LocalEnvironment;
}

export function isRunning(env: LocalEnvironment): boolean {
  const daemons = (env.hosts?.hosts ?? []).map((h) => h.pid);
  return [...env.controlPlane.pids, ...(env.system?.processes ?? []).map((p) => p.pid), ...daemons].every(isAlive);
}

export interface UpOptions {
  /** Simulated nodes; ignored with realHosts. */
  nodes: number;
  /** Instead: the two libvirt test hosts (root, libvirt + QEMU from hack/install-test-hosts.sh), a libvirt agent each. */
  realHosts?: boolean;
}

function sameKind(env: LocalEnvironment, options: UpOptions): boolean {
  if (options.realHosts) return env.hosts !== undefined;
  return env.hosts === undefined && (env.system?.options.nodes.length ?? 0) === options.nodes;
}

const save = (env: LocalEnvironment) => writeFileSync(STATE_FILE, JSON.stringify(env, null, 2));

/** Starts everything (or reuses what runs). */
export async function upLocalEnvironment(options: UpOptions): Promise<{ env: LocalEnvironment; reused: boolean }> {
  const existing = readLocalEnvironment();
  if (existing && isRunning(existing) && sameKind(existing, options)) return { env: existing, reused: true };
  if (existing) await downLocalEnvironment();
  mkdirSync(LOG_DIR, { recursive: true });
  const controlPlane = await startControlPlane({ kubeconfigPath: KUBECONFIG, logDir: LOG_DIR });
  const env: LocalEnvironment = { controlPlane };
  save(env);
  const common = {
    kubeconfig: KUBECONFIG,
    workDir: LOG_DIR,
    namespace: 'live-migration',
    configLocation: { namespace: 'kubevirt', name: 'kubevirt-config' },
    configData: { 'feature-gates': 'LiveMigration' },
    webhook: { suffix: 'local' },
  } satisfies Omit<LocalSystemOptions, 'nodes'>;
  if (options.realHosts) {
    // Recorded before anything else starts, so `down` finds them whatever fails next.
    env.hosts = await startLocalHosts(controlPlane.pids[controlPlane.pids.length - 1] ?? process.pid, LOCAL_DIR);
    save(env);
    env.system = await startLocalSystem({ ...common, nodes: hostNodes(env.hosts), agents: hostAgents(env.hosts) });
    save(env);
  } else if (options.nodes > 0) {
    env.system = await startLocalSystem({
      ...common,
      nodes: Array.from({ length: options.nodes }, (_, i) => ({ name: `node-${String(i + 1).padStart(2, '0')}`, labels: { zone: `zone-${(i % 3) + 1}` } })),
    });
    save(env);
  }
  return { env, reused: false };
}

export async function downLocalEnvironment(): Promise<boolean> {
  const env = readLocalEnvironment();
  if (!env) return false;
  if (env.system) await stopLocalSystem(env.system).catch(() => undefined);
  try {
    if (env.hosts) await stopLocalHosts(env.hosts);
  } finally {
    // Even when a host's cleanup failed: its reaper still ends it once kube-apiserver is gone.
    await stopControlPlane(env.controlPlane);
    rmSync(STATE_FILE, { force: true });
    rmSync(KUBECONFIG, { force: true });
  }
  return true;
}
