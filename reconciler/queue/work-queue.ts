// A level-triggered, keyed work queue with client-go's semantics (the JS client has none):
// - add(key) is idempotent while the key waits: a burst of events for one object is one reconcile;
// - a key being processed is never handed to a second worker; if it is added meanwhile, it is
//   queued again when the first worker calls done(key), so the newest state is always reconciled;
// - addRateLimited(key) retries after a per-key exponential backoff, forget(key) resets it;
// - addAfter(key, ms) schedules an add (for timeouts and progress polling); of several pending
//   delays for one key, the earliest wins;
// - after shutDown(), adds are ignored, items already queued are still handed out, and get()
//   resolves `{ shutdown: true }` once the queue is empty. shutDownWithDrain() also waits for the
//   keys being processed to be done. Items left queued are dropped: the state lives in the API
//   server, and the next leader lists everything anyway.
// Keys are strings ("namespace/name").
import { ExponentialBackoff, type BackoffOptions } from './rate-limiter.js';
import { realClock, type Clock, type TimerHandle } from '../../common/clock.js';

export type QueueItem = { key: string; shutdown: false } | { shutdown: true };

/** Callbacks for latency histograms (client-go's workqueue_queue_duration / work_duration). */
export interface WorkQueueObserver {
  /** ms from the add that made the key dirty to the get that handed it out. */
  queueLatency?(ms: number): void;
  /** ms from get to done. */
  workDuration?(ms: number): void;
}

export interface WorkQueueOptions {
  clock?: Clock;
  backoff?: BackoffOptions;
  observer?: WorkQueueObserver;
}

/** Counters for metrics (client-go's workqueue_* names in comments). */
export interface WorkQueueStats {
  /** workqueue_depth */
  depth: number;
  /** workqueue_adds_total: calls to add() that were not ignored for shutdown, deduplicated or not. */
  adds: number;
  /** workqueue_retries_total */
  retries: number;
  /** Keys being processed now. */
  processing: number;
  /** Keys scheduled by addAfter / addRateLimited, not yet due. */
  delayed: number;
  /** workqueue_unfinished_work_seconds, in ms: total time the keys in processing have run. */
  unfinishedWorkMs: number;
  /** workqueue_longest_running_processor_seconds, in ms. */
  longestRunningMs: number;
}

export class WorkQueue {
  private readonly clock: Clock;
  private readonly backoff: ExponentialBackoff;
  private readonly observer: WorkQueueObserver;

  private readonly items: string[] = [];
  private readonly dirty = new Map<string, number>(); // key → when it became dirty
  private readonly processing = new Map<string, number>(); // key → when it was handed out
  private readonly delayed = new Map<string, { readyAt: number; handle: TimerHandle }>();
  private readonly waiters: Array<(item: QueueItem) => void> = [];
  private drainWaiters: Array<() => void> = [];
  private shuttingDown = false;
  private adds = 0;
  private retries = 0;

  constructor(options: WorkQueueOptions = {}) {
    this.clock = options.clock ?? realClock;
    this.backoff = new ExponentialBackoff(options.backoff);
    this.observer = options.observer ?? {};
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    this.adds += 1;
    if (this.dirty.has(key)) return;
    this.dirty.set(key, this.clock.now());
    if (this.processing.has(key)) return; // queued again by done()
    this.enqueue(key);
  }

  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const readyAt = this.clock.now() + ms;
    const pending = this.delayed.get(key);
    if (pending !== undefined) {
      if (pending.readyAt <= readyAt) return;
      this.clock.clearTimer(pending.handle);
    }
    const handle = this.clock.setTimer(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { readyAt, handle });
  }

  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    this.retries += 1;
    this.addAfter(key, this.backoff.when(key));
  }

  /** Stop backing off key (call after a reconcile of key succeeded). */
  forget(key: string): void {
    this.backoff.forget(key);
  }

  numRequeues(key: string): number {
    return this.backoff.retries(key);
  }

  /** The next key, once there is one; `{ shutdown: true }` once shut down and empty. */
  get(): Promise<QueueItem> {
    const key = this.items.shift();
    if (key !== undefined) return Promise.resolve(this.handOut(key));
    if (this.shuttingDown) return Promise.resolve({ shutdown: true });
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    const startedAt = this.processing.get(key);
    if (startedAt === undefined) return;
    this.processing.delete(key);
    this.observer.workDuration?.(this.clock.now() - startedAt);
    if (this.dirty.has(key)) this.enqueue(key);
    if (this.processing.size === 0) this.resolveDrain();
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { handle } of this.delayed.values()) this.clock.clearTimer(handle);
    this.delayed.clear();
    for (const waiter of this.waiters.splice(0)) waiter({ shutdown: true });
  }

  /** Shuts down, then resolves once no key is being processed. */
  shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  stats(): WorkQueueStats {
    const now = this.clock.now();
    let unfinishedWorkMs = 0;
    let longestRunningMs = 0;
    for (const startedAt of this.processing.values()) {
      unfinishedWorkMs += now - startedAt;
      longestRunningMs = Math.max(longestRunningMs, now - startedAt);
    }
    return {
      depth: this.items.length,
      adds: this.adds,
      retries: this.retries,
      processing: this.processing.size,
      delayed: this.delayed.size,
      unfinishedWorkMs,
      longestRunningMs,
    };
  }

  private enqueue(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter(this.handOut(key));
    else this.items.push(key);
  }

  private handOut(key: string): QueueItem {
    const now = this.clock.now();
    const dirtySince = this.dirty.get(key) ?? now;
    this.dirty.delete(key);
    this.processing.set(key, now);
    this.observer.queueLatency?.(now - dirtySince);
    return { key, shutdown: false };
  }

  private resolveDrain(): void {
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }
}
