// The simulation driver under concurrency and volume: one job per UID whatever the callers do, and
// a bounded memory however many migrations pass through.
import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../common/clock.js';
import type { StartMigrationRequest } from '../contract.js';
import { MigrationTracker, TRACKER_SOFT_LIMIT } from '../server/migration-tracker.js';
import { ARRIVALS_KEPT, ArrivalBoard, FINISHED_KEPT, SimulationDriver } from './simulation-driver.js';

const MiB = 2 ** 20;
const vmi = { namespace: 'default', name: 'vmi-fedora' };

function twoNodes() {
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const arrivals = new ArrivalBoard();
  const source = new SimulationDriver({ nodeName: 'node02', address: '10.0.0.2', clock, arrivals });
  const target = new SimulationDriver({ nodeName: 'node01', address: '10.0.0.1', clock, arrivals });
  return { clock, arrivals, source, target };
}

function start(uid: string, memoryBytes = 64 * MiB): StartMigrationRequest {
  return {
    migrationUid: uid,
    vmi,
    destination: { nodeName: 'node01', address: '10.0.0.1', ports: {} },
    bandwidthBytesPerSecond: 64 * MiB,
    allowAutoConverge: false,
    allowPostCopy: false,
    memoryBytes,
  };
}

describe('SimulationDriver: one start per UID', () => {
  it('concurrent prepares of one UID reserve one set of ports and all get the same answer', async () => {
    const { target } = twoNodes();
    const prepare = { migrationUid: 'uid-1', vmi, sourceNode: 'node02', memoryBytes: 64 * MiB };
    const answers = await Promise.all([target.prepareTarget(prepare), target.prepareTarget(prepare), target.prepareTarget(prepare)]);
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(target.recordCounts.incoming).toBe(1);
    // The next migration gets the next ports: the concurrent calls took only one set.
    const next = await target.prepareTarget({ ...prepare, migrationUid: 'uid-2' });
    expect(Object.keys(next.targetDirectMigrationNodePorts)).toEqual(['35003', '35004', '35005']);
  });

  it('concurrent starts of one UID make one job: the copy is not restarted by the second', async () => {
    const { clock, source } = twoNodes();
    await Promise.all([source.startMigration(start('uid-1')), source.startMigration(start('uid-1'))]);
    expect(source.recordCounts.outgoing).toBe(1);
    clock.advance(500);
    // A later resend while it runs changes nothing either.
    await Promise.all([source.startMigration(start('uid-1')), source.migrationStatus('uid-1'), source.startMigration(start('uid-1'))]);
    expect((await source.migrationStatus('uid-1'))?.progress?.dataProcessedBytes).toBe(32 * MiB);
    expect(source.recordCounts.outgoing).toBe(1);
  });
});

describe('SimulationDriver: bounded memory', () => {
  it('after 10,000 migrations the records, the arrival board and the tracker stay bounded, and the newest still answer', async () => {
    const { clock, arrivals, source, target } = twoNodes();
    const tracker = new MigrationTracker(source, 15 * 60_000, () => clock.now());
    const N = 10_000;
    for (let i = 0; i < N; i++) {
      const uid = `m-${i}`;
      await target.prepareTarget({ migrationUid: uid, vmi, sourceNode: 'node02', memoryBytes: 64 * MiB });
      await source.startMigration(start(uid));
      tracker.add(uid);
      clock.advance(2_000); // 64 MiB at 64 MiB/s: done within 2 s
      if (i % 3 === 0) {
        expect((await source.migrationStatus(uid))?.state).toBe('Completed');
        expect(await target.confirmArrival(uid)).toEqual({ domainDetected: true });
      } else if (i % 3 === 1) {
        // Never looked at again by anybody: the guest is still "copying" in the model until asked.
      } else {
        await target.releaseTarget(uid); // as after a failure
      }
    }
    await tracker.counts();
    expect(source.recordCounts.outgoing).toBeLessThanOrEqual(FINISHED_KEPT + N / 3 + 1);
    // Migrations nobody asked about are still held (they may be running); ask once, and they go too.
    for (let i = 1; i < N; i += 3) await source.migrationStatus(`m-${i}`);
    expect(source.recordCounts.outgoing).toBeLessThanOrEqual(FINISHED_KEPT);
    expect(target.recordCounts.incoming).toBeLessThanOrEqual(FINISHED_KEPT + N / 3 + 1);
    expect(arrivals.size).toBeLessThanOrEqual(ARRIVALS_KEPT);
    expect(tracker.size).toBeLessThanOrEqual(TRACKER_SOFT_LIMIT);
    // Recent finished migrations still answer, idempotently.
    const last = `m-${N - 1}`;
    expect((await source.migrationStatus(last))?.state).toBe('Completed');
    // Targets prepared and never confirmed or released age out after a day.
    clock.advance(25 * 3600_000);
    await target.prepareTarget({ migrationUid: 'late', vmi, sourceNode: 'node02', memoryBytes: 64 * MiB });
    expect(target.recordCounts.incoming).toBe(1);
  });
});
