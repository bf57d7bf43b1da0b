// Per-key exponential backoff for retries, as client-go's ItemExponentialFailureRateLimiter:
// the n-th retry of a key waits base × 2^(n-1), capped at max, until the key is forgotten
// (after a successful reconcile). Defaults are client-go's default controller rate limiter's
// (5 ms, 1000 s). client-go also caps the overall rate with a token bucket (10 qps, burst 100);
// we leave that out: our retries are per-object reconciles, bounded by the API server's own
// priority and fairness.
export interface BackoffOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export const DEFAULT_BASE_DELAY_MS = 5;
export const DEFAULT_MAX_DELAY_MS = 1_000_000;

export class ExponentialBackoff {
  private readonly failures = new Map<string, number>();
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(options: BackoffOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
    this.maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  }

  /** The delay before the next retry of key; counts the retry. */
  when(key: string): number {
    const exponent = this.failures.get(key) ?? 0;
    this.failures.set(key, exponent + 1);
    // 2^exponent overflows to Infinity long after it passed the cap; min() keeps it finite.
    return Math.min(this.baseDelayMs * 2 ** exponent, this.maxDelayMs);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }
}
