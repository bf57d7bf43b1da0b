// Each component's --help from the compiled output, as `docker run live-migration webhook --help`
// (the Dockerfile's own example) runs it: the usage naming the flags, exit 0. A bad argument
// exits 2 with a message naming it, not a stack trace.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../api/generated-files.js';

let buildDir: string;

beforeAll(() => {
  // `npm run build` into a directory of our own; node_modules beside it so its imports resolve.
  buildDir = mkdtempSync(join(tmpdir(), 'live-migration-build-'));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(buildDir, 'node_modules'));
  execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', join(buildDir, 'dist')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}, 120_000);

afterAll(() => {
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
});

function run(script: string, args: string[]) {
  const result = spawnSync(process.execPath, [join(buildDir, 'dist', script), ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, KUBECONFIG: '' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const COMPONENT_FLAGS = {
  webhook: ['--tls-cert-file FILE', '--tls-key-file FILE', '--port PORT', '--config-namespace NS', '--system-service-account USER', '--cache-max-silence-ms MS'],
  reconciler: ['--agent-ca-file FILE', '--agent-client-cert-file FILE', '--agent-client-key-file FILE', '--watch-namespace NS', '--workers N', '--health-port PORT'],
  agent: ['--driver NAME', '--node NAME', '--nodes A,B,C', '--tls-cert FILE', '--client-ca FILE', '--migration-address ADDRESS', '--no-register'],
};

describe('live-migration COMPONENT --help', () => {
  for (const [component, flags] of Object.entries(COMPONENT_FLAGS)) {
    it(`${component}: prints its usage with its flags and exits 0`, () => {
      const result = run('cmd/live-migration.js', [component, '--help']);
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
      expect(result.stdout).toContain(`Usage: live-migration ${component} [flags]`);
      for (const flag of [...flags, '--log-level LEVEL', '--help, -h']) expect(result.stdout).toContain(`  ${flag}`);
      expect(result.stdout).toContain('SIGTERM');
    });
  }

  it('live-migration --help lists the components and exits 0', () => {
    for (const help of ['--help', '-h']) {
      const result = run('cmd/live-migration.js', [help]);
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
      for (const component of Object.keys(COMPONENT_FLAGS)) expect(result.stdout).toMatch(new RegExp(`^  ${component} `, 'm'));
    }
  });

  it('the kubectl plugin prints its usage and exits 0', () => {
    const result = run('cli/kubectl-migrate.js', ['--help']);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout).toContain('kubectl migrate cancel VMI');
  });
});

describe('bad arguments exit 2, naming what was wrong', () => {
  it('an unknown option of a component', () => {
    const result = run('cmd/live-migration.js', ['webhook', '--tls-cert=x']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("live-migration webhook: Unknown option '--tls-cert'\nRun 'live-migration webhook --help' for the flags.\n");
  });

  it('a flag without its value, and a stray argument', () => {
    const missing = run('cmd/live-migration.js', ['agent', '--driver']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^live-migration agent: Option '--driver <value>' argument missing\n/);
    const stray = run('cmd/live-migration.js', ['reconciler', 'extra']);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toMatch(/^live-migration reconciler: Unexpected argument 'extra'\n/);
  });

  it('an unknown component, or none', () => {
    const unknown = run('cmd/live-migration.js', ['controller']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^live-migration: unknown component "controller"\n/);
    expect(run('cmd/live-migration.js', []).code).toBe(2);
  });
});
