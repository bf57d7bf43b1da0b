// Which outgoing migrations one node's agent has started, so the metrics can count them by state.
// The driver interface has no "list" (the libvirt driver would have to ask libvirt for every job);
// the agent remembers the UIDs it was asked to start and asks the driver for each at scrape time.
//
// Bounded whether or not anyone scrapes: finished migrations are forgotten after a retention
// period at each count, and once more than `softLimit` UIDs are held, add() starts a pruning pass
// of its own; if the set is still over the limit after it, the oldest finished ones go first.
import type { MigrationDriver, MigrationJobState } from '../contract.js';

const TERMINAL: ReadonlySet<MigrationJobState> = new Set(['Completed', 'Failed', 'Aborted']);

export const TRACKER_SOFT_LIMIT = 1024;

interface Entry {
  finishedAt?: number;
}

export class MigrationTracker {
  private readonly started = new Map<string, Entry>();
  private pruning: Promise<Map<MigrationJobState, number>> | undefined;

  constructor(
    private readonly driver: Pick<MigrationDriver, 'migrationStatus'>,
    private readonly retentionMs = 15 * 60_000,
    private readonly now: () => number = Date.now,
    private readonly softLimit = TRACKER_SOFT_LIMIT,
  ) {}

  add(migrationUid: string): void {
    if (!this.started.has(migrationUid)) this.started.set(migrationUid, {});
    if (this.started.size > this.softLimit) void this.pass();
  }

  get size(): number {
    return this.started.size;
  }

  /** A fresh look: a pass already under way may have begun before the latest UIDs were added. */
  async counts(): Promise<Map<MigrationJobState, number>> {
    await this.pruning;
    return this.pass();
  }

  /** One look at every held UID (one pass at a time; callers meanwhile share it). */
  private pass(): Promise<Map<MigrationJobState, number>> {
    this.pruning ??= this.look().finally(() => (this.pruning = undefined));
    return this.pruning;
  }

  private async look(): Promise<Map<MigrationJobState, number>> {
    const counts = new Map<MigrationJobState, number>();
    const now = this.now();
    const finished: Array<[string, MigrationJobState]> = [];
    for (const [uid, entry] of [...this.started]) {
      const status = await this.driver.migrationStatus(uid).catch(() => undefined);
      if (status === undefined) {
        this.started.delete(uid);
        continue;
      }
      if (TERMINAL.has(status.state)) {
        entry.finishedAt ??= now;
        if (now - entry.finishedAt > this.retentionMs) {
          this.started.delete(uid);
          continue;
        }
        finished.push([uid, status.state]);
      }
      counts.set(status.state, (counts.get(status.state) ?? 0) + 1);
    }
    // Over the limit with recent finished ones: the oldest of them go (live ones are never dropped).
    for (const [uid, state] of finished) {
      if (this.started.size <= this.softLimit) break;
      this.started.delete(uid);
      counts.set(state, (counts.get(state) ?? 1) - 1);
    }
    return counts;
  }
}
