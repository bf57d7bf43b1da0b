// Teardown that happens even when the test process does not get to do it: a detached shell waits for
// the owner to exit and then runs the same cleanup.sh a normal stop runs.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLEANUP_SCRIPT, toolEnv } from './paths.js';

/** Starts the reaper before anything exists to reap, so a crash at any later point is covered. */
export function startReaper(ownerPid: number, dir: string, netns: readonly string[]): number {
  const script = 'owner=$1; shift; while kill -0 "$owner" 2>/dev/null; do sleep 1; done; exec sh "$@"';
  const child = spawn('sh', ['-c', script, 'live-migration-hosts-reaper', String(ownerPid), CLEANUP_SCRIPT, dir, ...netns], {
    detached: true,
    stdio: 'ignore',
    env: toolEnv(),
  });
  child.unref();
  if (child.pid === undefined) throw new Error('could not start the test-hosts reaper');
  return child.pid;
}

/** Ends the reaper (its process group: the shell and its sleep), once a normal stop has done its job. */
export async function stopReaper(pid: number): Promise<void> {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    return; // already gone
  }
  // Signals land asynchronously: wait until it is gone (or a zombie, whose cmdline reads empty), so a
  // leftover check right after stop() does not see it.
  for (let i = 0; i < 100 && running(pid); i++) await sleep(20);
}

function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`).length > 0;
  } catch {
    return false;
  }
}

/** Runs cleanup.sh now and waits for it; rejects with its stderr when something survived. */
export function cleanup(dir: string, netns: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('sh', [CLEANUP_SCRIPT, dir, ...netns], { env: toolEnv(), timeout: 30_000, encoding: 'utf8' }, (error, _stdout, stderr) =>
      error ? reject(new Error(`test-hosts cleanup failed: ${stderr.trim() || String(error)}`)) : resolve(),
    );
  });
}
