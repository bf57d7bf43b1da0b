// What integration tests know about the control plane the global setup started.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

/** Runs kubectl against the test control plane, as a user would; never throws on a non-zero exit. */
export function kubectl(args: string[], input?: string): KubectlResult {
  const state = readControlPlaneState();
  try {
    const stdout = execFileSync(state.binaries.kubectl, ['--kubeconfig', state.kubeconfig, ...args], {
      input,
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr: '' };
  } catch (error) {
    const e = error as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Creates a namespace of the test file's own and returns its name. */
export function createTestNamespace(prefix: string): string {
  const name = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  const result = kubectl(['create', 'namespace', name]);
  if (result.code !== 0) throw new Error(`cannot create namespace ${name}: ${result.stderr}`);
  return name;
}
