// The kubectl plugin's exit codes as a script sees them (cli/migrate/main.ts): 1 when a migration
// followed with --wait ends without success, 1 when the API server cannot be reached, 2 for usage.
// No reconciler runs here: the test writes the migration's end the way the reconciler would, so
// each case is decided by the plugin alone.
import { describe, expect, it } from '@jest/globals';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '../../api/generated-files.js';
import { createTestNamespace, kubectl, readControlPlaneState } from '../setup/environment.js';

const PLUGIN = join(REPO_ROOT, 'cli/bin/kubectl-migrate.js');
const control = readControlPlaneState();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function plugin(args: string[], kubeconfig = control.kubeconfig): { child: ChildProcess; done: Promise<Run> } {
  let child: ChildProcess | undefined;
  const done = new Promise<Run>((resolve) => {
    child = execFile(process.execPath, [PLUGIN, ...args], { env: { ...process.env, KUBECONFIG: kubeconfig }, timeout: 110_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
  if (!child) throw new Error('plugin did not start');
  return { child, done };
}

/** The name of the one migration the plugin created in `ns`, once it exists. */
async function createdMigration(ns: string): Promise<string> {
  for (;;) {
    const names = kubectl(['get', 'vmim', '-n', ns, '-o', 'jsonpath={.items[*].metadata.name}']).stdout.trim();
    const [first] = names.split(' ');
    if (first) return first;
    await sleep(200);
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('kubectl migrate exit codes', () => {
  it('exits 1 when a migration followed with --wait fails', async () => {
    const ns = createTestNamespace('plugin-exit-failed');
    const run = plugin(['vm-fails', '-n', ns, '--wait']);
    const name = await createdMigration(ns);
    const status = { phase: 'Failed', migrationState: { failed: true, failureReason: 'test: target refused the domain' } };
    const patched = kubectl(['patch', 'vmim', name, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
    expect(patched.stderr).toBe('');
    const result = await run.done;
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('Failed');
  });

  it('exits 0 when a migration followed with --wait succeeds (the same path, so code 1 above is the failure)', async () => {
    const ns = createTestNamespace('plugin-exit-succeeded');
    const run = plugin(['vm-succeeds', '-n', ns, '--wait']);
    const name = await createdMigration(ns);
    const status = { phase: 'Succeeded', migrationState: { completed: true } };
    expect(kubectl(['patch', 'vmim', name, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]).stderr).toBe('');
    const result = await run.done;
    expect(result.code).toBe(0);
  });

  it('exits 1 when the migration followed with --wait is deleted before it ends', async () => {
    const ns = createTestNamespace('plugin-exit-deleted');
    const run = plugin(['vm-deleted', '-n', ns, '--wait']);
    const name = await createdMigration(ns);
    expect(kubectl(['delete', 'vmim', name, '-n', ns, '--wait=false']).code).toBe(0);
    const result = await run.done;
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('deleted before it ended');
  });

  it('exits 1 when the API server cannot be reached', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plugin-exit-'));
    try {
      const port = await deadPort();
      const kubeconfig = join(dir, 'kubeconfig');
      // The admin kubeconfig (JSON), every cluster pointed at the dead port.
      const config = JSON.parse(readFileSync(control.kubeconfig, 'utf8')) as { clusters: Array<{ cluster: { server: string } }> };
      for (const { cluster } of config.clusters) cluster.server = `https://127.0.0.1:${port}`;
      writeFileSync(kubeconfig, JSON.stringify(config));
      for (const args of [['vm-x', '-n', 'default'], ['status', '-n', 'default'], ['history', 'vm-x', '-n', 'default']]) {
        const result = await plugin(args, kubeconfig).done;
        expect({ args, code: result.code }).toEqual({ args, code: 1 });
        expect(result.stderr).not.toBe('');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 for usage errors', async () => {
    for (const args of [[], ['--no-such-flag', 'vm'], ['vm', '-o', 'xml'], ['cancel'], ['status', '-A', '-n', 'default'], ['vm', '--node-selector', 'novalue']]) {
      const result = await plugin(args).done;
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toContain('kubectl migrate --help');
    }
  });
});
