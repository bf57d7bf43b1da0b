// Which outgoing migrations one node's agent has started, so the metrics can count them by state.
// The driver interface has no "list" (the libvirt driver would have to ask libvirt for every job);
// the agent remembers the UIDs it was asked to start and asks the driver for each at scrape time.
// Finished migrations are forgotten after a retention period, so the set stays bounded.
import type { MigrationDriver, MigrationJobState } from '../contract.js';

const TERMINAL: ReadonlySet<MigrationJobState> = new Set(['Completed', 'Failed', 'Aborted']);

export class MigrationTracker {
  private readonly started = new Map<string, { finishedAt?: number }>();

  constructor(
    private readonly driver: Pick<MigrationDriver, 'migrationStatus'>,
    private readonly retentionMs = 15 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  add(migrationUid: string): void {
    if (!this.started.has(migrationUid)) this.started.set(migrationUid, {});
  }

  async counts(): Promise<Map<MigrationJobState, number>> {
    const counts = new Map<MigrationJobState, number>();
    const now = this.now();
    for (const [uid, entry] of this.started) {
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
      }
      counts.set(status.state, (counts.get(status.state) ?? 0) + 1);
    }
    return counts;
  }
}
