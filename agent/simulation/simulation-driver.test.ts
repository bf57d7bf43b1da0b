import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../common/clock.js';
import type { StartMigrationRequest } from '../contract.js';
import { ABORT_ARRIVES_LATE_ANNOTATION, ArrivalBoard, DIRTY_RATE_ANNOTATION, DirtyRateError, REFUSE_TARGET_ANNOTATION, SimulationDriver, dirtyRateFrom } from './simulation-driver.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

function twoNodes() {
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const arrivals = new ArrivalBoard();
  const source = new SimulationDriver({ nodeName: 'node02', address: '10.0.0.2', clock, arrivals });
  const target = new SimulationDriver({ nodeName: 'node01', address: '10.128.0.46', clock, arrivals });
  return { clock, source, target };
}

const vmi = { namespace: 'default', name: 'vmi-fedora' };

function start(overrides: Partial<StartMigrationRequest> = {}): StartMigrationRequest {
  return {
    migrationUid: 'uid-1',
    vmi,
    destination: { nodeName: 'node01', address: '10.128.0.46', ports: {} },
    bandwidthBytesPerSecond: 64 * MiB,
    allowAutoConverge: false,
    allowPostCopy: false,
    memoryBytes: GiB,
    ...overrides,
  };
}

describe('SimulationDriver', () => {
  it('runs a migration end to end: prepare, start, progress, completion, arrival on the target', async () => {
    const { clock, source, target } = twoNodes();
    const ready = await target.prepareTarget({ migrationUid: 'uid-1', vmi, sourceNode: 'node02', memoryBytes: GiB });
    expect(ready).toEqual({
      targetNodeAddress: '10.128.0.46',
      targetDirectMigrationNodePorts: { '35000': 0, '35001': 49152, '35002': 49153 },
      targetPod: 'simulated-agent-node01',
    });
    await source.startMigration(start());
    clock.advance(8000);
    const halfway = await source.migrationStatus('uid-1');
    expect(halfway).toMatchObject({
      state: 'Running',
      progress: { dataProcessedBytes: 512 * MiB, dataRemainingBytes: 512 * MiB, iteration: 1, sampledAt: '2026-01-01T00:00:08.000Z' },
    });
    expect(await target.confirmArrival('uid-1')).toEqual({ domainDetected: false });
    clock.advance(8000);
    expect((await source.migrationStatus('uid-1'))?.state).toBe('Completed');
    expect(await target.confirmArrival('uid-1')).toEqual({ domainDetected: true });
    expect(await source.confirmArrival('uid-1')).toEqual({ domainDetected: false });
  });

  it('repeated calls are idempotent', async () => {
    const { clock, source, target } = twoNodes();
    const first = await target.prepareTarget({ migrationUid: 'uid-1', vmi, sourceNode: 'node02', memoryBytes: GiB });
    expect(await target.prepareTarget({ migrationUid: 'uid-1', vmi, sourceNode: 'node02', memoryBytes: GiB })).toEqual(first);
    await source.startMigration(start());
    clock.advance(4000);
    await source.startMigration(start()); // a restarted reconciler asks again: no restart of the copy
    expect((await source.migrationStatus('uid-1'))?.progress?.dataProcessedBytes).toBe(256 * MiB);
  });

  it('reads the dirty rate from the VMI annotation, so a busy guest does not converge', async () => {
    const { clock, source } = twoNodes();
    await source.startMigration(start({ annotations: { [DIRTY_RATE_ANNOTATION]: '96Mi' } }));
    clock.advance(600_000);
    const status = await source.migrationStatus('uid-1');
    expect(status?.state).toBe('Running');
    expect(status?.progress?.dirtyRateBytesPerSecond).toBe(96 * MiB);
  });

  it('refuses an unreadable dirty rate instead of ignoring it', () => {
    expect(dirtyRateFrom(undefined)).toBe(0);
    expect(dirtyRateFrom({ [DIRTY_RATE_ANNOTATION]: '64Mi' })).toBe(64 * MiB);
    expect(() => dirtyRateFrom({ [DIRTY_RATE_ANNOTATION]: 'fast' })).toThrow(DirtyRateError);
  });

  it('abort: stops a running copy, too late after completion, not-found for unknown', async () => {
    const { clock, source, target } = twoNodes();
    await source.startMigration(start());
    clock.advance(1000);
    expect(await source.abortMigration('uid-1')).toEqual({ result: 'aborted' });
    clock.advance(60_000);
    expect((await source.migrationStatus('uid-1'))?.state).toBe('Aborted');
    expect(await target.confirmArrival('uid-1')).toEqual({ domainDetected: false });

    await source.startMigration(start({ migrationUid: 'uid-2', memoryBytes: 64 * MiB }));
    clock.advance(2000);
    expect(await source.abortMigration('uid-2')).toEqual({ result: 'completed-first' });
    expect(await source.abortMigration('nope')).toEqual({ result: 'not-found' });
    expect(await source.migrationStatus('nope')).toBeUndefined();
  });

  describe('scripted races', () => {
    it('refuse-target: the target refuses to prepare with Conflict, naming why, and keeps nothing', async () => {
      const { target } = twoNodes();
      const request = { migrationUid: 'uid-r', vmi, sourceNode: 'node02', memoryBytes: GiB, annotations: { [REFUSE_TARGET_ANNOTATION]: 'no room' } };
      await expect(target.prepareTarget(request)).rejects.toMatchObject({ code: 'Conflict', message: expect.stringContaining('cannot host the guest: no room') });
      expect(target.recordCounts.incoming).toBe(0);
    });

    it('abort-arrives-late: an abort mid-copy finds the guest completed and delivered to its target', async () => {
      const { clock, source, target } = twoNodes();
      await target.prepareTarget({ migrationUid: 'uid-1', vmi, sourceNode: 'node02', memoryBytes: GiB });
      await source.startMigration(start({ annotations: { [ABORT_ARRIVES_LATE_ANNOTATION]: 'true' } }));
      clock.advance(2000);
      expect((await source.migrationStatus('uid-1'))?.state).toBe('Running');
      expect(await source.abortMigration('uid-1')).toEqual({ result: 'completed-first' });
      expect((await source.migrationStatus('uid-1'))?.state).toBe('Completed');
      expect(await target.confirmArrival('uid-1')).toEqual({ domainDetected: true });
    });

    it('without the annotation the same abort stops the copy', async () => {
      const { clock, source } = twoNodes();
      await source.startMigration(start());
      clock.advance(2000);
      expect(await source.abortMigration('uid-1')).toEqual({ result: 'aborted' });
    });
  });
});
