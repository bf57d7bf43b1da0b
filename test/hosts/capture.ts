// What crosses the wire between the hosts: tcpdump on a host's end of the veth pair writing a pcap
// file into the host's dir (a pipe to this process dropped packets under load), scanned for byte
// patterns after the capture and deleted. For tests that must see that guest memory does or does
// not travel in clear.
import { spawn } from 'node:child_process';
import { createReadStream, rmSync } from 'node:fs';
import { join } from 'node:path';
import { HOST_INTERFACE } from './network.js';
import { toolEnv } from './paths.js';
import type { TestHost } from './test-hosts.js';

export interface CaptureResult {
  /** Bytes of pcap received (headers included). */
  bytes: number;
  /** Occurrences of each pattern in the stream. */
  counts: Record<string, number>;
  /** tcpdump's own count of packets the kernel dropped before it read them. */
  droppedByKernel: number;
  packets: number;
}

export interface Capture {
  stop(): Promise<CaptureResult>;
}

/** Starts tcpdump on the host's interface; resolves once it is listening. */
export async function startCapture(host: TestHost, patterns: readonly string[], timeoutMs = 10_000): Promise<Capture> {
  // -U: packets flushed as they come; -B: a 64 MiB kernel buffer, so a fast migration is not dropped.
  const file = join(host.dir, `capture-${Date.now()}.pcap`);
  const child = spawn('ip', ['netns', 'exec', host.netns, 'tcpdump', '-i', HOST_INTERFACE, '-n', '-s', '0', '-B', '65536', '-w', file], {
    env: toolEnv(),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump on ${host.name} not listening within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    child.stderr.on('data', (text: string) => {
      stderr += text;
      if (/listening on/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`tcpdump on ${host.name} exited (${code}): ${stderr}`));
    });
  });
  return {
    async stop() {
      child.kill('SIGINT');
      await exited;
      const number = (what: RegExp) => Number(what.exec(stderr)?.[1] ?? NaN);
      try {
        return { ...(await scan(file, patterns)), droppedByKernel: number(/(\d+) packets? dropped by kernel/), packets: number(/(\d+) packets? captured/) };
      } finally {
        rmSync(file, { force: true });
      }
    },
  };
}

/** Counts each pattern in a file, read in chunks (a pattern split between two chunks counts once). */
async function scan(file: string, patterns: readonly string[]): Promise<{ bytes: number; counts: Record<string, number> }> {
  const needles = patterns.map((p) => Buffer.from(p));
  const keep = Math.max(0, ...needles.map((n) => n.length)) - 1;
  const counts: Record<string, number> = Object.fromEntries(patterns.map((p) => [p, 0]));
  let bytes = 0;
  let tail = Buffer.alloc(0);
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 }) as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    // The tail of the previous chunk goes first; a match lying wholly in it was counted already.
    const window = Buffer.concat([tail, chunk]);
    needles.forEach((needle, i) => {
      for (let at = window.indexOf(needle); at !== -1; at = window.indexOf(needle, at + 1)) {
        if (at + needle.length > tail.length) counts[patterns[i]!]! += 1;
      }
    });
    tail = window.subarray(Math.max(0, window.length - keep));
  }
  return { bytes, counts };
}
