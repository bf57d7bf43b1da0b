// What integration tests know about the control plane the global setup started.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ControlPlaneState } from '../../hack/control-plane/control-plane.js';

export const STATE_ENV = 'LIVE_MIGRATION_TEST_CONTROL_PLANE';

export function readControlPlaneState(): ControlPlaneState {
  const file = process.env[STATE_ENV];
  if (!file) throw new Error(`${STATE_ENV} is not set: integration tests need jest's global setup`);
  return JSON.parse(readFileSync(file, 'utf8')) as ControlPlaneState;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a client binary against the test control plane; never throws on a non-zero exit. */
function runClient(binary: string, args: string[], options: { input?: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): KubectlResult {
  const state = readControlPlaneState();
  try {
    const stdout = execFileSync(binary, ['--kubeconfig', state.kubeconfig, ...args], {
      input: options.input,
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs,
      env: options.env ?? process.env,
    });
    return { code: 0, stdout, stderr: '' };
  } catch (error) {
    const e = error as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Runs kubectl against the test control plane, as a user would; never throws on a non-zero exit. */
export function kubectl(args: string[], input?: string): KubectlResult {
  return runClient(readControlPlaneState().binaries.kubectl, args, { input, timeoutMs: 60_000 });
}

/** As kubectl, but keeps stderr on success too: where admission warnings ("Warning: …") are printed. */
export function kubectlWithWarnings(args: string[], input?: string): KubectlResult {
  const state = readControlPlaneState();
  const result = spawnSync(state.binaries.kubectl, ['--kubeconfig', state.kubeconfig, ...args], { input, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status ?? 1, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

/** Runs helm against the test control plane with its cache and config under `workDir` (nothing in $HOME). */
export function helm(args: string[], workDir: string): KubectlResult {
  return runClient(readControlPlaneState().binaries.helm, args, {
    timeoutMs: 120_000,
    env: { ...process.env, HELM_CACHE_HOME: join(workDir, 'helm-cache'), HELM_CONFIG_HOME: join(workDir, 'helm-config'), HELM_DATA_HOME: join(workDir, 'helm-data') },
  });
}

/** Creates a namespace of the test file's own and returns its name. */
export function createTestNamespace(prefix: string): string {
  const name = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  const result = kubectl(['create', 'namespace', name]);
  if (result.code !== 0) throw new Error(`cannot create namespace ${name}: ${result.stderr}`);
  return name;
}
