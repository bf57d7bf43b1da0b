// Per-migration records with a bound: live records stay until they finish (their number is the
// node's real concurrency), finished ones are kept for idempotent answers (a repeated status,
// abort or confirm after the end) but only the newest `maxFinished` and only for `finishedTtlMs`.
// Records that never finish (a target prepared and then forgotten by its caller) can be given an
// age limit too. Eviction order is finishing order, so pruning costs O(evicted), plus one pass
// over the live records when they have an age limit.

export interface RecordTableOptions<V> {
  maxFinished: number;
  finishedTtlMs: number;
  /** Records never finished are dropped after this long; kept forever when absent. */
  activeTtlMs?: number;
  /** Told about every record dropped by the bound (not about delete()). */
  onEvict?: (key: string, value: V) => void;
}

interface Entry<V> {
  value: V;
  since: number;
  finishedAt?: number;
}

export class RecordTable<V> {
  private readonly entries = new Map<string, Entry<V>>();
  /** Keys of finished records, oldest first. */
  private readonly finished = new Set<string>();

  constructor(private readonly options: RecordTableOptions<V>) {}

  get(key: string): V | undefined {
    return this.entries.get(key)?.value;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  isFinished(key: string): boolean {
    return this.finished.has(key);
  }

  /** Adds (or replaces) a live record. */
  set(key: string, value: V, nowMs: number): void {
    this.finished.delete(key);
    this.entries.set(key, { value, since: nowMs });
    this.prune(nowMs);
  }

  /** Marks a record finished (idempotent: the first time counts). */
  finish(key: string, nowMs: number): void {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.finishedAt !== undefined) return;
    entry.finishedAt = nowMs;
    this.finished.add(key);
    this.prune(nowMs);
  }

  delete(key: string): void {
    this.entries.delete(key);
    this.finished.delete(key);
  }

  values(): V[] {
    return [...this.entries.values()].map((e) => e.value);
  }

  get size(): number {
    return this.entries.size;
  }

  get finishedCount(): number {
    return this.finished.size;
  }

  /** Drops what the bounds no longer allow. */
  prune(nowMs: number): void {
    for (const key of this.finished) {
      const entry = this.entries.get(key);
      const expired = entry === undefined || nowMs - (entry.finishedAt ?? nowMs) > this.options.finishedTtlMs;
      if (!expired && this.finished.size <= this.options.maxFinished) break;
      this.evict(key);
    }
    const ttl = this.options.activeTtlMs;
    if (ttl === undefined) return;
    for (const [key, entry] of this.entries) {
      if (entry.finishedAt === undefined && nowMs - entry.since > ttl) this.evict(key);
    }
  }

  private evict(key: string): void {
    const entry = this.entries.get(key);
    this.delete(key);
    if (entry !== undefined) this.options.onEvict?.(key, entry.value);
  }
}
