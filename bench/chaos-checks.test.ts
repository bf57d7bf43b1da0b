// The chaos benchmark's verdicts: each must be able to say "broken".
import { describe, expect, it } from '@jest/globals';
import type { VirtualMachineInstance } from '../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../api/schemas/vmim.js';
import { agentStarts, disagreement, duplicatedStarts, limitPeaks, progressMoments, recoveryMs } from './chaos-checks.js';

const LIMITS = { cluster: 2, outboundPerNode: 1, inboundPerNode: 1 };
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

function vmim(name: string, source: string, target: string, stamps: Record<string, number>, extra: Partial<NonNullable<VirtualMachineInstanceMigration['status']>> = {}): VirtualMachineInstanceMigration {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstanceMigration',
    metadata: { name, uid: `uid-${name}` },
    spec: { vmiName: `vmi-${name}` },
    status: {
      phase: Object.keys(stamps).pop() as 'Running',
      phaseTransitionTimestamps: Object.entries(stamps).map(([phase, s]) => ({ phase: phase as 'Running', phaseTransitionTimestamp: at(s) })),
      migrationState: { sourceNode: source, targetNode: target },
      ...extra,
    },
  } as VirtualMachineInstanceMigration;
}

describe('limitPeaks', () => {
  it('counts slots from Scheduled to the final phase, an end before a start at the same instant', () => {
    const peaks = limitPeaks([vmim('a', 'n1', 'n2', { Scheduled: 0, Succeeded: 10 }), vmim('b', 'n3', 'n4', { Scheduled: 1, Succeeded: 5 }), vmim('c', 'n5', 'n6', { Scheduled: 5, Failed: 8 })], LIMITS, Date.parse(at(100)));
    expect(peaks).toEqual({ cluster: 2, outbound: 1, inbound: 1, exceeded: [] });
  });

  it('reports a third migration at once over a cluster limit of 2, and two out of one node', () => {
    const peaks = limitPeaks([vmim('a', 'n1', 'n2', { Scheduled: 0, Succeeded: 10 }), vmim('b', 'n1', 'n4', { Scheduled: 1, Succeeded: 5 }), vmim('c', 'n5', 'n6', { Scheduled: 2 })], LIMITS, Date.parse(at(100)));
    expect(peaks.cluster).toBe(3);
    expect(peaks.exceeded).toEqual([`${at(1)} outbound n1 2 > 1`, `${at(2)} cluster 3 > 2`]);
  });
});

describe('disagreement', () => {
  const state = { sourceNode: 'n1', targetNode: 'n2', completed: true, failed: false, endTimestamp: at(9) };
  const final = vmim('a', 'n1', 'n2', { TargetReady: 1, Running: 2, Succeeded: 9 }, { migrationState: state });
  const vmi = (migrationState: Record<string, unknown> | undefined, nodeName = 'n2') => ({ metadata: { name: 'vmi-a' }, status: { nodeName, migrationState } }) as unknown as VirtualMachineInstance;

  it('accepts a VMI that already says the same', () => {
    expect(disagreement(final, vmi({ ...state, migrationUid: 'uid-a' }))).toBeUndefined();
  });

  it('names a VMI still showing the migration as running, or still on its source', () => {
    expect(disagreement(final, vmi({ ...state, completed: false, migrationUid: 'uid-a' }))).toContain('migrationState.completed');
    expect(disagreement(final, vmi({ ...state, migrationUid: 'uid-a' }, 'n1'))).toContain('runs on n1');
    expect(disagreement(final, vmi(undefined))).toContain('shows migration none');
  });

  it('holds a VMI named by a migration cancelled before TargetReady to the same end', () => {
    const aborted = { sourceNode: 'n1', targetNode: 'n2', completed: true, failed: true, abortStatus: 'Succeeded' as const, endTimestamp: at(3) };
    const cancelled = vmim('a', 'n1', 'n2', { Scheduled: 0, PreparingTarget: 1, Failed: 3 }, { migrationState: aborted });
    expect(disagreement(cancelled, vmi(undefined, 'n1'))).toBeUndefined();
    expect(disagreement(cancelled, vmi({ ...aborted, migrationUid: 'uid-a' }, 'n1'))).toBeUndefined();
    expect(disagreement(cancelled, vmi({ sourceNode: 'n1', targetNode: 'n2', migrationUid: 'uid-a' }, 'n1'))).toContain('migrationState.completed');
  });
});

describe('agent starts', () => {
  const line = (uid: string, node: string, code: number) => JSON.stringify({ msg: 'agent call', route: '/v1/migrations/:uid/start', uid, node, code, time: 1 });

  it('finds a UID started twice across agent restarts, not a resend the agent answered 200', () => {
    const log = [line('u1', 'n1', 202), line('u1', 'n1', 200), line('u2', 'n2', 202), '{"msg":"agent call","rou', line('u2', 'n2', 202)].join('\n');
    expect(agentStarts(log)).toHaveLength(4);
    expect(duplicatedStarts(agentStarts(log))).toEqual([{ uid: 'u2', nodes: ['n2', 'n2'] }]);
  });
});

describe('recovery', () => {
  it('is the time to the first phase stamp at or after the restore, none when nothing moved', () => {
    const moments = progressMoments([vmim('a', 'n1', 'n2', { Scheduled: 0, Succeeded: 10 })]);
    expect(recoveryMs(moments, Date.parse(at(4)))).toBe(6000);
    expect(recoveryMs(moments, Date.parse(at(11)))).toBeUndefined();
  });
});
