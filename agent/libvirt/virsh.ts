// virsh as a child process: the libvirt driver's only way to talk to libvirt.
//
// Why virsh and not a native binding: the Node bindings for libvirt (`libvirt`, `node-libvirt`) are
// unmaintained native addons that must be compiled against the node's libvirt headers and Node's
// ABI, and a crash in one takes the agent (and its view of every migration) down with it. virsh is
// libvirt's own, maintained client, shipped with every libvirt, speaking the same RPC as the API; a
// virsh call that hangs or crashes costs one child process, killed by its timeout. The price is a
// process per call (~20–40 ms) and text to parse, so:
// - every call has a timeout (SIGKILL, then a VirshError that says it timed out);
// - outputs are parsed strictly (parse.ts): an unexpected line is an error, never a guess;
// - `domjobinfo --rawstats` gives exact integers instead of virsh's rounded "12.345 MiB";
// - LC_ALL=C keeps libvirt's messages untranslated, and a failure carries libvirt's own message.
import { execFile, spawn, type ChildProcess } from 'node:child_process';

export interface VirshOptions {
  /** Kill virsh (SIGKILL) and fail after this long; default 10 s. */
  timeoutMs?: number;
}

export class VirshError extends Error {
  constructor(
    readonly uri: string,
    readonly args: readonly string[],
    /** What libvirt said ("error: " lines of virsh's stderr, prefix removed, joined by "; "). */
    readonly libvirtMessage: string,
    readonly exitCode: number | null,
    readonly timedOut: boolean,
  ) {
    super(timedOut ? `virsh ${args[0] ?? ''} timed out: ${libvirtMessage}` : `virsh ${args[0] ?? ''}: ${libvirtMessage}`);
    this.name = 'VirshError';
  }
}

/** libvirt's message from virsh's stderr: its "error: " lines without the prefix, or the whole text. */
export function libvirtMessage(stderr: string): string {
  const errors = stderr
    .split('\n')
    .filter((line) => line.startsWith('error: '))
    .map((line) => line.slice('error: '.length).trim());
  return (errors.length > 0 ? errors.join('; ') : stderr).trim();
}

function virshEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LC_ALL: 'C', LANG: 'C', PATH: `${process.env.PATH ?? ''}:/usr/bin:/bin:/usr/sbin:/sbin` };
}

/** Runs `virsh -q -c <uri> ...args`; resolves with stdout, rejects with a VirshError. */
export function virsh(uri: string, args: readonly string[], options: VirshOptions = {}): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    execFile(
      'virsh',
      ['-q', '-c', uri, ...args],
      { env: virshEnv(), timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const e = error as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
        const timedOut = e.killed === true && typeof e.code !== 'number';
        const message = stderr.trim() ? libvirtMessage(stderr) : timedOut ? `no answer within ${timeoutMs} ms` : e.message;
        reject(new VirshError(uri, args, message, typeof e.code === 'number' ? e.code : null, timedOut));
      },
    );
  });
}

/** A long-running virsh (the migration itself): its exit is the outcome; it may be killed. */
export interface VirshChild {
  pid: number | undefined;
  /** Resolves when virsh exits: ok, or libvirt's message. Never rejects. */
  done: Promise<{ ok: true } | { ok: false; error: VirshError }>;
  kill(): void;
}

/**
 * Starts `virsh -q -c <uri> ...args` without waiting. `maxMs` bounds it like every other call (the
 * migration's own timeouts belong to the reconciler; this is the last resort against a hung virsh).
 */
export function spawnVirsh(uri: string, args: readonly string[], maxMs: number): VirshChild {
  const child: ChildProcess = spawn('virsh', ['-q', '-c', uri, ...args], { env: virshEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    if (stderr.length < 64 * 1024) stderr += chunk;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, maxMs);
  timer.unref();
  const done = new Promise<{ ok: true } | { ok: false; error: VirshError }>((resolve) => {
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, error: new VirshError(uri, args, error.message, null, false) });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve({ ok: true });
      const message = stderr.trim() ? libvirtMessage(stderr) : timedOut ? `no answer within ${maxMs} ms` : `virsh ended by ${signal ?? `exit code ${code}`}`;
      resolve({ ok: false, error: new VirshError(uri, args, message, code, timedOut) });
    });
  });
  return { pid: child.pid, done, kill: () => child.kill('SIGKILL') };
}
