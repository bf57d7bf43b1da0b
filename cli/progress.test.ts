import { describe, expect, it } from '@jest/globals';
import type { VirtualMachineInstanceMigration } from '../api/schemas/vmim.js';
import { describeMigration, progressBar } from './progress.js';

const base: VirtualMachineInstanceMigration = { metadata: { name: 'm' }, spec: { vmiName: 'vmi-fedora' } };

describe('describeMigration', () => {
  it('shows a running migration with bar, percent, rate, remaining and ETA', () => {
    const line = describeMigration(
      { ...base, status: { phase: 'Running', progress: { percent: 40, bandwidthMiBps: 64, dataRemainingBytes: 600 * 2 ** 20, etaSeconds: 75, iteration: 2 } } },
      10,
    );
    expect(line).toBe('Running   [####......]   40%  64.0 MiB/s  remaining 600 MiB  ETA 1m15s  pass 2');
  });

  it('says why a migration waits', () => {
    const line = describeMigration({
      ...base,
      status: { phase: 'Scheduling', conditions: [{ type: 'Admitted', status: 'False', reason: 'ClusterLimit', message: '5 migrations running in the cluster (limit 5)' }] },
    });
    expect(line).toBe('Scheduling      waiting: 5 migrations running in the cluster (limit 5)');
  });

  it('gives the outcome with the failure reason or the move', () => {
    expect(describeMigration({ ...base, status: { phase: 'Failed', migrationState: { failureReason: 'ProgressTimeout: stuck', abortRequested: false } } })).toBe(
      'Failed: ProgressTimeout: stuck',
    );
    expect(describeMigration({ ...base, status: { phase: 'Failed', migrationState: { failureReason: 'Aborted: cancelled', abortRequested: true, abortStatus: 'Succeeded' } } })).toBe(
      'Failed (abort Succeeded): Aborted: cancelled',
    );
    expect(describeMigration({ ...base, status: { phase: 'Succeeded', migrationState: { sourceNode: 'a', targetNode: 'b' } } })).toBe('Succeeded: vmi-fedora moved a → b');
  });

  it('clamps the bar', () => {
    expect(progressBar(150, 4)).toBe('[####]');
    expect(progressBar(-5, 4)).toBe('[....]');
  });
});
