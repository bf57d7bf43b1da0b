// May admission decide from its caches right now? A cache that has not synced, or that has heard
// nothing from the API server for longer than a healthy informer ever stays silent, may be missing
// a migration already in flight: admitting from it could start a second migration of one VMI. Such
// requests are refused with a retryable message instead (fail closed), and /readyz says not ready.
import type { InformerHealth } from '../kube/informer.js';

export type CacheTrust = { trusted: true } | { trusted: false; reason: string };

export const TRUSTED: CacheTrust = { trusted: true };

/**
 * The longest silence a healthy informer shows: the watchdog notices silence past staleAfterMs
 * within a quarter of it, and the relist that follows takes at most startTimeoutMs; another quarter
 * of staleAfterMs is margin for a slow relist or a busy event loop.
 */
export function defaultMaxSilenceMs(health: Pick<InformerHealth, 'staleAfterMs' | 'startTimeoutMs'>): number {
  return Math.ceil(1.5 * health.staleAfterMs) + health.startTimeoutMs;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/**
 * Judges the caches a decision reads. `maxSilenceMs` bounds how long any of them may go without
 * an event, a watch (re)connect or a completed list; by default defaultMaxSilenceMs of each.
 */
export function judgeCacheTrust(caches: readonly InformerHealth[], now: number, maxSilenceMs?: number): CacheTrust {
  const unsynced = caches.filter((cache) => !cache.synced).map((cache) => cache.name);
  if (unsynced.length > 0) return { trusted: false, reason: `not synced yet: ${unsynced.join(', ')}` };
  const silent = caches
    .map((cache) => ({ cache, silence: now - cache.lastActivityAt, bound: maxSilenceMs ?? defaultMaxSilenceMs(cache) }))
    .filter(({ silence, bound }) => silence > bound);
  if (silent.length > 0) {
    const details = silent.map(({ cache, silence, bound }) => `${cache.name} silent for ${seconds(silence)} (bound ${seconds(bound)})`);
    return { trusted: false, reason: `no word from the API server: ${details.join(', ')}` };
  }
  return TRUSTED;
}

/** What a refused user reads on kubectl: what is wrong, that nothing of theirs is, and to retry. */
export function untrustedCacheMessage(vmi: string, reason: string): string {
  return (
    `Cannot migrate VMI ${vmi}: the webhook's caches are not synced with the API server (${reason}), ` +
    'so it cannot tell whether a migration of this VMI is already in flight. Retry shortly.'
  );
}
