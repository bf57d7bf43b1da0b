import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { exitCodeFor, historyTable, migrationFor, outcomeLine, progressLine, redraw, serialize, shortDuration, statusTable } from './format.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();

function vmim(name: string, vmi: string, createdSecondsAgo: number, status: VirtualMachineInstanceMigration['status']): VirtualMachineInstanceMigration {
  return { metadata: { name, namespace: 'demo', creationTimestamp: ago(createdSecondsAgo) }, spec: { vmiName: vmi }, status };
}

const running = vmim('m-run', 'vmi-a', 30, {
  phase: 'Running',
  migrationState: { sourceNode: 'node-1', targetNode: 'node-2' },
  progress: { percent: 42, bandwidthMiBps: 64, dataRemainingBytes: 627 * 2 ** 20, etaSeconds: 12 },
});
const waiting = vmim('m-wait', 'vmi-b', 5, {
  phase: 'Scheduling',
  conditions: [{ type: 'Admitted', status: 'False', reason: 'ClusterLimit', message: '1 of 1 running' }],
});
const succeeded = vmim('m-ok', 'vmi-a', 600, {
  phase: 'Succeeded',
  migrationState: { sourceNode: 'node-2', targetNode: 'node-1' },
  phaseTransitionTimestamps: [{ phase: 'Succeeded', phaseTransitionTimestamp: ago(580) }],
});
const cancelled = vmim('m-cancel', 'vmi-a', 300, {
  phase: 'Failed',
  migrationState: { sourceNode: 'node-1', abortRequested: true, abortStatus: 'Succeeded', failureReason: 'Cancelled by the user' },
  phaseTransitionTimestamps: [{ phase: 'Failed', phaseTransitionTimestamp: ago(290) }],
});

describe('kubectl migrate output', () => {
  it('builds the migration it creates', () => {
    expect(migrationFor('vmi-a', 'demo', {})).toEqual({
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstanceMigration',
      metadata: { generateName: 'vmi-a-migration-', namespace: 'demo' },
      spec: { vmiName: 'vmi-a' },
    });
    expect(migrationFor('vmi-a', 'demo', { zone: 'b' }).spec.addedNodeSelector).toEqual({ zone: 'b' });
  });

  it('lists migrations in flight, oldest first, with progress or why they wait', () => {
    expect(statusTable([waiting, succeeded, running], NOW, false).split('\n')).toEqual([
      'NAME     VMI     PHASE        SOURCE   TARGET   PROGRESS                RATE         REMAINING   ETA   AGE',
      'm-run    vmi-a   Running      node-1   node-2   [####......]  42%       64.0 MiB/s   627 MiB     12s   30s',
      'm-wait   vmi-b   Scheduling   <none>   <none>   waiting: ClusterLimit                                  5s',
    ]);
    expect(statusTable([waiting], NOW, true).split('\n')[0]).toMatch(/^NAMESPACE\s+NAME/);
    expect(statusTable([succeeded], NOW, false)).toBe('No migrations in flight.');
  });

  it('shows a VMI history newest first with durations and why a migration failed', () => {
    expect(historyTable([succeeded, running, cancelled, waiting], 'vmi-a', NOW).split('\n')).toEqual([
      'NAME       PHASE       SOURCE   TARGET   AGE   DURATION   RESULT',
      'm-run      Running     node-1   node-2   30s              in flight',
      'm-cancel   Failed      node-1   <none>   5m    10s        cancelled (abort Succeeded): Cancelled by the user',
      'm-ok       Succeeded   node-2   node-1   10m   20s        moved',
    ]);
    expect(historyTable([], 'vmi-z', NOW)).toBe('No migrations of vmi-z.');
  });

  it('draws the live line in place and ends with the outcome and exit code', () => {
    expect(progressLine(running)).toBe('m-run: Running   [#############.................]   42%  64.0 MiB/s  remaining 627 MiB  ETA 12s');
    expect(redraw('abcdefghijklmnop', 12)).toBe('\rabcdefghijk\x1b[K');
    expect(outcomeLine(succeeded)).toBe('m-ok: Succeeded: vmi-a moved node-2 → node-1 in 20s');
    expect(outcomeLine(cancelled)).toBe('m-cancel: Failed (abort Succeeded): Cancelled by the user in 10s');
    expect(exitCodeFor(succeeded)).toBe(0);
    expect(exitCodeFor(cancelled)).toBe(1);
  });

  it('serializes for scripts', () => {
    expect(JSON.parse(serialize(running, 'json'))).toEqual(running);
    expect(parse(serialize(running, 'yaml'))).toEqual(running);
  });

  it('writes durations the way kubectl does', () => {
    expect([0, 59_000, 61_000, 600_000, 3_599_000, 3_600_000, 7_500_000, 90_000_000].map(shortDuration)).toEqual(['0s', '59s', '1m1s', '10m', '59m', '1h', '2h5m', '1d']);
  });
});
