// virsh against one test host's libvirtd, the way an operator would drive it: every call has a
// timeout, and a failure carries libvirt's own message rather than a bare exit code.
import { execFile } from 'node:child_process';
import { toolEnv } from './paths.js';

/** Anything that names a libvirt connection: a TestHost, or just its URI. */
export interface LibvirtEndpoint {
  name: string;
  uri: string;
}

export interface VirshOptions {
  /** Kill virsh (SIGKILL) and fail after this long; default 30 s. */
  timeoutMs?: number;
}

export class VirshError extends Error {
  constructor(
    readonly host: string,
    readonly args: readonly string[],
    /** What libvirt said ("error: " lines of virsh's stderr, prefix removed), or virsh's whole stderr. */
    readonly libvirtMessage: string,
    readonly exitCode: number | null,
    readonly timedOut: boolean,
  ) {
    super(
      timedOut
        ? `virsh ${args.join(' ')} on host ${host} timed out${libvirtMessage ? `: ${libvirtMessage}` : ''}`
        : `virsh ${args.join(' ')} on host ${host} failed: ${libvirtMessage || `exit code ${exitCode}`}`,
    );
    this.name = 'VirshError';
  }
}

export function libvirtMessage(stderr: string): string {
  const errors = stderr
    .split('\n')
    .filter((line) => line.startsWith('error: '))
    .map((line) => line.slice('error: '.length).trim());
  return (errors.length > 0 ? errors.join('; ') : stderr).trim();
}

/** Runs `virsh -q -c <host uri> ...args` and resolves with its stdout; rejects with a VirshError. */
export function virsh(host: LibvirtEndpoint, args: readonly string[], options: VirshOptions = {}): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    execFile(
      'virsh',
      ['-q', '-c', host.uri, ...args],
      { env: toolEnv(), timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const e = error as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
        const timedOut = e.killed === true && typeof e.code !== 'number';
        // On a timeout there may be no stderr at all; say so rather than echo Node's "Command failed".
        const message = stderr ? libvirtMessage(stderr) : timedOut ? `no answer within ${timeoutMs} ms` : e.message;
        reject(new VirshError(host.name, args, message, typeof e.code === 'number' ? e.code : null, timedOut));
      },
    );
  });
}
