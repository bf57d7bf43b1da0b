#!/usr/bin/env node
// npm bin shim of the kubectl plugin: `kubectl migrate ...` finds `kubectl-migrate` on PATH.
// Runs the compiled plugin (dist/cli/kubectl-migrate.js) when it has been built, otherwise the
// TypeScript source through tsx, in a child node process that inherits the terminal.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = fileURLToPath(new URL('../../dist/cli/kubectl-migrate.js', import.meta.url));
const source = fileURLToPath(new URL('../kubectl-migrate.ts', import.meta.url));
function tsx() {
  try {
    // Resolved from here, not from the caller's working directory.
    return import.meta.resolve('tsx');
  } catch {
    process.stderr.write('kubectl-migrate: neither dist/cli/kubectl-migrate.js nor tsx is installed; run `npm ci` in the repository\n');
    process.exit(1);
  }
}
const args = existsSync(compiled) ? [compiled] : ['--import', tsx(), source];
const child = spawnSync(process.execPath, [...args, ...process.argv.slice(2)], { stdio: 'inherit' });
if (child.error) {
  process.stderr.write(`kubectl-migrate: ${child.error.message}\n`);
  process.exit(1);
}
process.exit(child.status ?? (child.signal === 'SIGINT' ? 130 : 1));
