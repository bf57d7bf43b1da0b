// Runs a reconcile function over a keyed work queue, as controller-runtime does: level-triggered
// (a key says "look at this object again", not what changed), one worker per key at a time,
// errors retried with per-key backoff, success forgets the backoff.
import type { WorkQueue } from './queue/work-queue.js';

/** What event handlers may do to a controller's queue. */
export type KeyQueue = Pick<WorkQueue, 'add' | 'addAfter'>;

export interface ReconcileResult {
  /** Look again after this long even if nothing changes (polling an agent, a deadline). */
  requeueAfterMs?: number;
}

export type Reconcile = (key: string) => Promise<ReconcileResult | void>;

export interface RunnerLogger {
  warn(object: Record<string, unknown>, message: string): void;
}

export interface RunnerObserver {
  reconciled(controller: string, outcome: 'success' | 'error' | 'requeue', seconds: number): void;
}

export class ControllerRunner {
  private workers: Array<Promise<void>> = [];

  constructor(
    readonly name: string,
    readonly queue: WorkQueue,
    private readonly reconcile: Reconcile,
    private readonly options: { workers: number; logger?: RunnerLogger; observer?: RunnerObserver },
  ) {}

  start(): void {
    for (let i = 0; i < this.options.workers; i++) this.workers.push(this.work());
  }

  /** Stops handing out keys; resolves when in-flight reconciles have finished. */
  async stop(): Promise<void> {
    await this.queue.shutDownWithDrain();
    await Promise.all(this.workers);
  }

  private async work(): Promise<void> {
    for (;;) {
      const item = await this.queue.get();
      if (item.shutdown) return;
      const { key } = item;
      const started = performance.now();
      let outcome: 'success' | 'error' | 'requeue' = 'success';
      try {
        const result = await this.reconcile(key);
        this.queue.forget(key);
        if (result?.requeueAfterMs !== undefined) {
          outcome = 'requeue';
          this.queue.addAfter(key, result.requeueAfterMs);
        }
      } catch (error) {
        outcome = 'error';
        this.options.logger?.warn({ controller: this.name, key, err: error instanceof Error ? error.message : String(error) }, 'reconcile failed; retrying with backoff');
        this.queue.addRateLimited(key);
      } finally {
        this.queue.done(key);
        this.options.observer?.reconciled(this.name, outcome, (performance.now() - started) / 1000);
      }
    }
  }
}
