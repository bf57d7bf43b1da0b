import { describe, expect, it } from '@jest/globals';
import type { MigrationJobState, MigrationJobStatus } from '../contract.js';
import { MigrationTracker } from './migration-tracker.js';

/** A driver whose migrations are in the states the test sets. */
function driverWith(states: Map<string, MigrationJobState>) {
  return {
    migrationStatus: async (uid: string): Promise<MigrationJobStatus | undefined> => {
      const state = states.get(uid);
      return state === undefined ? undefined : { migrationUid: uid, state };
    },
  };
}

describe('MigrationTracker', () => {
  it('stays bounded without any scrape: finished migrations go first, running ones are kept', async () => {
    const states = new Map<string, MigrationJobState>();
    const tracker = new MigrationTracker(driverWith(states), 15 * 60_000, () => 0, 10);
    states.set('long-runner', 'Running');
    tracker.add('long-runner');
    for (let i = 0; i < 1000; i++) {
      states.set(`m-${i}`, 'Completed');
      tracker.add(`m-${i}`);
      await Promise.resolve();
    }
    const counts = await tracker.counts();
    expect(tracker.size).toBeLessThanOrEqual(10);
    expect(counts.get('Running')).toBe(1);
    expect(counts.get('Completed')).toBe(tracker.size - 1);
  });

  it('forgets a migration the driver no longer knows, and finished ones after the retention', async () => {
    const states = new Map<string, MigrationJobState>([['a', 'Failed'], ['b', 'Running']]);
    let now = 0;
    const tracker = new MigrationTracker(driverWith(states), 1_000, () => now);
    tracker.add('a');
    tracker.add('b');
    tracker.add('gone');
    expect(await tracker.counts()).toEqual(new Map([['Failed', 1], ['Running', 1]]));
    now = 2_000;
    expect(await tracker.counts()).toEqual(new Map([['Running', 1]]));
    expect(tracker.size).toBe(1);
  });
});
