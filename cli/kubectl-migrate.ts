// Entry point of the kubectl plugin `kubectl-migrate` (see cli/migrate/args.ts for its usage).
import { setTimeout as sleep } from 'node:timers/promises';
import { runKubectlMigrate } from './migrate/main.js';

const code = await runKubectlMigrate(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  now: () => Date.now(),
  sleep: (ms) => sleep(ms),
});
// Let stdout drain before leaving (a pipe may still hold the last line).
process.stdout.write('', () => process.exit(code));
