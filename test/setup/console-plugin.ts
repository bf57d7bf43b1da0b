// `kubectl migrate` as a user runs it for the console: with a client certificate the node agents
// allow (the reconciler's, in a test system), the control plane's kubeconfig.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../api/generated-files.js';
import { readControlPlaneState } from './environment.js';
import type { TestSystem } from './system.js';

export const PLUGIN = join(REPO_ROOT, 'cli/bin/kubectl-migrate.js');

export function consolePluginEnv(system: TestSystem): NodeJS.ProcessEnv {
  const { pki } = system.state;
  return {
    ...process.env,
    KUBECONFIG: readControlPlaneState().kubeconfig,
    LIVE_MIGRATION_AGENT_CERT: pki.reconcilerCert,
    LIVE_MIGRATION_AGENT_KEY: pki.reconcilerKey,
    LIVE_MIGRATION_AGENT_CA: pki.caCert,
  };
}

/** Runs the plugin to its end (killed after `timeoutMs`: a wait that never ends fails the test, named). */
export function runPlugin(env: NodeJS.ProcessEnv, args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PLUGIN, ...args], { env, timeout: timeoutMs }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
