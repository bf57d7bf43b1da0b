// The guest's serial console as the host it runs on wrote it: after a live migration the destination
// host's file continues where the source's stopped (same heartbeat sequence, no new boot line).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestHost } from './test-hosts.js';

export function consolePath(host: TestHost, guestName: string): string {
  return join(host.dir, 'log', 'qemu', `${guestName}-console.log`);
}

/** Everything the guest printed while on this host ('' before it ever ran here). */
export function readConsole(host: TestHost, guestName: string): string {
  const path = consolePath(host, guestName);
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

/** Heartbeat sequence numbers in console text, in order ("lm-heartbeat <seq> uptime=<s>"). */
export function heartbeats(text: string): number[] {
  return [...text.matchAll(/^lm-heartbeat (\d+) /gm)].map((match) => Number(match[1]));
}

/** Polls the console until `done(text)` holds; fails with the console's tail when it does not in time. */
export async function waitForConsole(
  host: TestHost,
  guestName: string,
  done: RegExp | ((text: string) => boolean),
  timeoutMs = 30_000,
): Promise<string> {
  const test = typeof done === 'function' ? done : (text: string) => done.test(text);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = readConsole(host, guestName);
    if (test(text)) return text;
    if (Date.now() > deadline) {
      throw new Error(`guest ${guestName} on host ${host.name}: console did not show ${String(done)} within ${timeoutMs} ms; it ends with:\n${text.split('\n').slice(-40).join('\n')}`);
    }
    await sleep(100);
  }
}

/** Waits until the guest prints a heartbeat numbered above `after` on this host; returns that number. */
export async function waitForHeartbeat(host: TestHost, guestName: string, after = 0, timeoutMs = 30_000): Promise<number> {
  const text = await waitForConsole(host, guestName, (t) => heartbeats(t).some((seq) => seq > after), timeoutMs);
  return Math.max(...heartbeats(text));
}
