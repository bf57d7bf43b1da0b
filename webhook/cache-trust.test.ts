import { describe, expect, it } from '@jest/globals';
import type { InformerHealth } from '../kube/informer.js';
import { defaultMaxSilenceMs, judgeCacheTrust, untrustedCacheMessage } from './cache-trust.js';

const NOW = 1_000_000_000;

function cache(name: string, overrides: Partial<InformerHealth> = {}): InformerHealth {
  return { name, synced: true, lastActivityAt: NOW - 1000, staleAfterMs: 60_000, startTimeoutMs: 30_000, ...overrides };
}

describe('judgeCacheTrust', () => {
  it('trusts synced caches that heard from the API server recently', () => {
    expect(judgeCacheTrust([cache('vmis'), cache('vmims')], NOW)).toEqual({ trusted: true });
  });

  it('distrusts a cache that has not synced, naming it', () => {
    const trust = judgeCacheTrust([cache('vmis'), cache('vmims', { synced: false, lastActivityAt: 0 })], NOW);
    expect(trust).toEqual({ trusted: false, reason: 'not synced yet: vmims' });
  });

  it('distrusts a synced cache silent for longer than the bound, and says for how long', () => {
    const trust = judgeCacheTrust([cache('vmis'), cache('vmims', { lastActivityAt: NOW - 12_500 })], NOW, 10_000);
    expect(trust).toEqual({ trusted: false, reason: 'no word from the API server: vmims silent for 12.5 s (bound 10 s)' });
  });

  it('trusts a cache silent exactly up to the bound', () => {
    expect(judgeCacheTrust([cache('vmis', { lastActivityAt: NOW - 10_000 })], NOW, 10_000)).toEqual({ trusted: true });
  });

  it("by default allows the silence of a healthy quiet informer: its staleness period, the watchdog's delay and a relist", () => {
    const health = cache('vmis');
    const healthyWorst = health.staleAfterMs * 1.25 + health.startTimeoutMs;
    expect(defaultMaxSilenceMs(health)).toBeGreaterThan(healthyWorst);
    expect(judgeCacheTrust([cache('vmis', { lastActivityAt: NOW - healthyWorst })], NOW).trusted).toBe(true);
    expect(judgeCacheTrust([cache('vmis', { lastActivityAt: NOW - defaultMaxSilenceMs(health) - 1 })], NOW).trusted).toBe(false);
  });

  it('reports unsynced caches before silent ones', () => {
    const trust = judgeCacheTrust([cache('vmis', { lastActivityAt: 0 }), cache('config', { synced: false })], NOW, 10_000);
    expect(trust).toEqual({ trusted: false, reason: 'not synced yet: config' });
  });
});

describe('untrustedCacheMessage', () => {
  it('names the VMI, says why and says to retry', () => {
    expect(untrustedCacheMessage('ns/vm', 'not synced yet: vmims')).toBe(
      "Cannot migrate VMI ns/vm: the webhook's caches are not synced with the API server (not synced yet: vmims), " +
        'so it cannot tell whether a migration of this VMI is already in flight. Retry shortly.',
    );
  });
});
