// One run per key at a time: a call that arrives while a run for the same key is in flight shares
// that run's outcome instead of starting a second one. The key is reserved synchronously, before
// the run's first await, so two concurrent calls (a client's resend, two reconciler leaders) can
// never both get past the reservation.

export class SingleFlight<K, V> {
  private readonly inFlight = new Map<K, Promise<V>>();

  /** Runs `fn` unless a run for `key` is in flight; either way, that run's outcome. */
  run(key: K, fn: () => Promise<V>): Promise<V> {
    const running = this.inFlight.get(key);
    if (running !== undefined) return running;
    // fn starts on the next microtask; the reservation is in place before it does.
    const promise = Promise.resolve().then(fn);
    this.inFlight.set(key, promise);
    const clear = () => {
      if (this.inFlight.get(key) === promise) this.inFlight.delete(key);
    };
    promise.then(clear, clear);
    return promise;
  }

  /** The run in flight for `key`, if any. */
  get(key: K): Promise<V> | undefined {
    return this.inFlight.get(key);
  }

  get size(): number {
    return this.inFlight.size;
  }
}
