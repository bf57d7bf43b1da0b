import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../common/clock.js';
import { ExponentialBackoff } from './rate-limiter.js';
import { WorkQueue, type QueueItem } from './work-queue.js';

function keyOf(item: QueueItem): string {
  if (item.shutdown) throw new Error('unexpected shutdown');
  return item.key;
}

/** Drains what is queued now, marking each key done. */
async function takeAll(queue: WorkQueue): Promise<string[]> {
  const keys: string[] = [];
  while (queue.stats().depth > 0) {
    const key = keyOf(await queue.get());
    keys.push(key);
    queue.done(key);
  }
  return keys;
}

describe('WorkQueue', () => {
  it('hands keys out in the order they were first added, once each', async () => {
    const queue = new WorkQueue({ clock: new ManualClock() });
    for (const key of ['ns/a', 'ns/b', 'ns/a', 'ns/c', 'ns/b']) queue.add(key);
    expect(queue.stats()).toMatchObject({ depth: 3, adds: 5 });
    expect(await takeAll(queue)).toEqual(['ns/a', 'ns/b', 'ns/c']);
  });

  it('does not hand a key being processed to a second worker, and processes it again after done', async () => {
    const queue = new WorkQueue({ clock: new ManualClock() });
    queue.add('ns/a');
    const first = keyOf(await queue.get());
    queue.add('ns/a'); // an event arrives while ns/a is being reconciled
    queue.add('ns/b');
    expect(keyOf(await queue.get())).toBe('ns/b');
    let second: string | undefined;
    void queue.get().then((item) => (second = keyOf(item)));
    await Promise.resolve();
    expect(second).toBeUndefined();
    queue.done(first);
    await Promise.resolve();
    expect(second).toBe('ns/a');
  });

  it('a waiting get() is woken by the next add', async () => {
    const queue = new WorkQueue({ clock: new ManualClock() });
    const pending = queue.get();
    queue.add('ns/x');
    expect(await pending).toEqual({ key: 'ns/x', shutdown: false });
  });

  it('addAfter adds when due; the earliest of two delays wins', async () => {
    const clock = new ManualClock();
    const queue = new WorkQueue({ clock });
    queue.addAfter('ns/a', 1000);
    queue.addAfter('ns/a', 300);
    queue.addAfter('ns/a', 5000);
    clock.advance(299);
    expect(queue.stats()).toMatchObject({ depth: 0, delayed: 1 });
    clock.advance(1);
    expect(queue.stats()).toMatchObject({ depth: 1, delayed: 0 });
    expect(await takeAll(queue)).toEqual(['ns/a']);
    clock.advance(10_000);
    expect(queue.stats().depth).toBe(0);
  });

  it('retries back off exponentially per key until forgotten', async () => {
    const clock = new ManualClock();
    const queue = new WorkQueue({ clock });
    /** ms from addRateLimited until the key is queued. */
    const dueAfter = async (key: string): Promise<number> => {
      queue.addRateLimited(key);
      let waited = 0;
      while (queue.stats().depth === 0 && waited < 10_000) {
        clock.advance(1);
        waited += 1;
      }
      queue.done(keyOf(await queue.get()));
      return waited;
    };
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) delays.push(await dueAfter('ns/a'));
    expect(delays).toEqual([5, 10, 20, 40]);
    expect(await dueAfter('ns/b')).toBe(5);
    expect(queue.numRequeues('ns/a')).toBe(4);
    queue.forget('ns/a');
    expect(await dueAfter('ns/a')).toBe(5);
    expect(queue.stats().retries).toBe(6);
  });

  it('the backoff is capped (client-go default: 5 ms to 1000 s)', () => {
    const backoff = new ExponentialBackoff();
    const delays = Array.from({ length: 40 }, () => backoff.when('k'));
    expect(delays.slice(0, 3)).toEqual([5, 10, 20]);
    expect(delays[17]).toBe(655_360);
    expect(delays[18]).toBe(1_000_000);
    expect(delays[39]).toBe(1_000_000);
  });

  it('reports queue latency and work duration', async () => {
    const clock = new ManualClock();
    const latencies: number[] = [];
    const durations: number[] = [];
    const queue = new WorkQueue({ clock, observer: { queueLatency: (ms) => latencies.push(ms), workDuration: (ms) => durations.push(ms) } });
    queue.add('ns/a');
    clock.advance(40);
    const key = keyOf(await queue.get());
    clock.advance(15);
    expect(queue.stats()).toMatchObject({ processing: 1, unfinishedWorkMs: 15, longestRunningMs: 15 });
    queue.done(key);
    expect(latencies).toEqual([40]);
    expect(durations).toEqual([15]);
  });

  it('after shutDown: adds are ignored, queued keys still come out, then shutdown', async () => {
    const clock = new ManualClock();
    const queue = new WorkQueue({ clock });
    queue.add('ns/a');
    queue.addAfter('ns/later', 100);
    queue.shutDown();
    queue.add('ns/b');
    clock.advance(1000);
    expect(await queue.get()).toEqual({ key: 'ns/a', shutdown: false });
    expect(await queue.get()).toEqual({ shutdown: true });
    expect(clock.pendingTimers()).toBe(0);
  });

  it('shutDown wakes idle workers', async () => {
    const queue = new WorkQueue({ clock: new ManualClock() });
    const waiting = [queue.get(), queue.get()];
    queue.shutDown();
    expect(await Promise.all(waiting)).toEqual([{ shutdown: true }, { shutdown: true }]);
  });

  it('shutDownWithDrain waits for keys in processing', async () => {
    const queue = new WorkQueue({ clock: new ManualClock() });
    queue.add('ns/a');
    const key = keyOf(await queue.get());
    let drained = false;
    const drain = queue.shutDownWithDrain().then(() => (drained = true));
    await Promise.resolve();
    expect(drained).toBe(false);
    queue.done(key);
    await drain;
    expect(drained).toBe(true);
  });

  it('concurrent workers never process one key at once, and the last add is always processed', async () => {
    const queue = new WorkQueue();
    const active = new Set<string>();
    const processedAfterLastAdd = new Map<string, boolean>();
    let overlaps = 0;
    let reconciles = 0;
    const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
    const worker = async () => {
      for (;;) {
        const item = await queue.get();
        if (item.shutdown) return;
        if (active.has(item.key)) overlaps += 1;
        active.add(item.key);
        processedAfterLastAdd.set(item.key, true);
        reconciles += 1;
        await tick();
        active.delete(item.key);
        queue.done(item.key);
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    const keys = ['ns/a', 'ns/b', 'ns/c'];
    for (let round = 0; round < 200; round++) {
      const key = keys[round % 3] ?? 'ns/a';
      processedAfterLastAdd.set(key, false);
      queue.add(key);
      if (round % 7 === 0) await tick();
    }
    while (queue.stats().depth > 0 || queue.stats().processing > 0) await tick();
    await queue.shutDownWithDrain();
    queue.shutDown();
    await Promise.all(workers);
    expect(overlaps).toBe(0);
    expect([...processedAfterLastAdd.values()]).toEqual([true, true, true]);
    expect(reconciles).toBeLessThan(200); // bursts were coalesced
  });
});
