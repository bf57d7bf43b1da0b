// This controller's own latest writes, newer than the informer cache until the watch brings them
// back. Reading through it lets a reconcile go on from what it just wrote (a slot it freed, a VMI
// it just mirrored onto) instead of deciding on, or writing over, an older copy.
interface Versioned {
  metadata: { uid?: string; resourceVersion?: string };
}

export class ReadYourWrites<T extends Versioned> {
  private readonly written = new Map<string, T>();

  record(key: string, object: T): void {
    this.written.set(key, object);
  }

  has(key: string): boolean {
    return this.written.has(key);
  }

  /**
   * The newer of the cached copy and our last write (resourceVersions are etcd revisions, so newer
   * is larger). An object gone from the cache is gone; once the cache catches up, the write is
   * forgotten, so the map holds only writes in flight.
   */
  freshest(key: string, cached: T | undefined): T | undefined {
    const mine = this.written.get(key);
    if (!mine) return cached;
    if (cached && cached.metadata.uid === mine.metadata.uid && Number(mine.metadata.resourceVersion) > Number(cached.metadata.resourceVersion)) return mine;
    this.written.delete(key);
    return cached;
  }

  get size(): number {
    return this.written.size;
  }
}
