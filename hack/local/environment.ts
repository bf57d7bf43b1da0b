// The local environment people use: control plane + the whole system with N simulated nodes,
// recorded in .local/state.json so `down` (or the demo) finds what `up` started.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../api/generated-files.js';
import { isAlive, startControlPlane, stopControlPlane, type ControlPlaneState } from '../control-plane/control-plane.js';
import { startLocalSystem, stopLocalSystem, type LocalSystemState } from '../system/local-system.js';

export const LOCAL_DIR = join(REPO_ROOT, '.local');
export const KUBECONFIG = join(LOCAL_DIR, 'kubeconfig');
const STATE_FILE = join(LOCAL_DIR, 'state.json');
const LOG_DIR = join(LOCAL_DIR, 'logs');

export interface LocalEnvironment {
  controlPlane: ControlPlaneState;
  system?: LocalSystemState;
}

export function readLocalEnvironment(): LocalEnvironment | undefined {
  if (!existsSync(STATE_FILE)) return undefined;
  return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as LocalEnvironment;
}


export function isRunning(env: LocalEnvironment): boolean {
  return [...env.controlPlane.pids, ...(env.system?.processes ?? []).map((p) => p.pid)].every(isAlive);
}

export interface UpOptions {
  nodes: number;
}

/** Starts everything (or reuses what runs). */
export async function upLocalEnvironment(options: UpOptions): Promise<{ env: LocalEnvironment; reused: boolean }> {
  const existing = readLocalEnvironment();
  if (existing && isRunning(existing) && (existing.system?.options.nodes.length ?? 0) === options.nodes) return { env: existing, reused: true };
  if (existing) await downLocalEnvironment();
  mkdirSync(LOG_DIR, { recursive: true });
  const controlPlane = await startControlPlane({ kubeconfigPath: KUBECONFIG, logDir: LOG_DIR });
  const env: LocalEnvironment = { controlPlane };
  writeFileSync(STATE_FILE, JSON.stringify(env, null, 2));
  if (options.nodes > 0) {
    env.system = await startLocalSystem({
      kubeconfig: KUBECONFIG,
      workDir: LOG_DIR,
      namespace: 'live-migration',
      configLocation: { namespace: 'kubevirt', name: 'kubevirt-config' },
      configData: { 'feature-gates': 'LiveMigration' },
      nodes: Array.from({ length: options.nodes }, (_, i) => ({ name: `node-${String(i + 1).padStart(2, '0')}`, labels: { zone: `zone-${(i % 3) + 1}` } })),
      webhook: { suffix: 'local' },
    });
    writeFileSync(STATE_FILE, JSON.stringify(env, null, 2));
  }
  return { env, reused: false };
}

export async function downLocalEnvironment(): Promise<boolean> {
  const env = readLocalEnvironment();
  if (!env) return false;
  if (env.system) await stopLocalSystem(env.system).catch(() => undefined);
  await stopControlPlane(env.controlPlane);
  rmSync(STATE_FILE, { force: true });
  rmSync(KUBECONFIG, { force: true });
  return true;
}
