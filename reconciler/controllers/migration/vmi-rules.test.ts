import { describe, expect, it } from '@jest/globals';
import type { VirtualMachineInstance } from '../../../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../../../api/schemas/vmim.js';
import { FailureReason } from '../../failure-reasons.js';
import { blockerOf, readinessOf, VMI_SHUTDOWN_MESSAGE, vmiShutDown } from './vmi-rules.js';

const vmi = (status: VirtualMachineInstance['status'], deleting = false): VirtualMachineInstance => ({
  metadata: { name: 'vmi', namespace: 'ns', ...(deleting ? { deletionTimestamp: '2026-03-01T10:00:00Z' } : {}) },
  status,
});
const vmim = (status?: VirtualMachineInstanceMigration['status']): VirtualMachineInstanceMigration => ({ metadata: { name: 'mig', namespace: 'ns' }, spec: { vmiName: 'vmi' }, status });
const migratable = () => ({ condition: { type: 'LiveMigratable' as const, status: 'True' as const } });

describe('vmiShutDown', () => {
  it('gone, being deleted, or in a final phase', () => {
    expect(vmiShutDown(undefined)).toBe(true);
    expect(vmiShutDown(vmi({ phase: 'Running', nodeName: 'n1' }, true))).toBe(true);
    expect(vmiShutDown(vmi({ phase: 'Succeeded' }))).toBe(true);
    expect(vmiShutDown(vmi({ phase: 'Failed' }))).toBe(true);
    expect(vmiShutDown(vmi({ phase: 'Running', nodeName: 'n1' }))).toBe(false);
    expect(vmiShutDown(vmi({ phase: 'Scheduling' }))).toBe(false);
  });
});

describe('blockerOf', () => {
  it('a missing VMI names itself', () => {
    expect(blockerOf(vmim(), undefined, migratable)).toEqual({ reason: FailureReason.VmiGone, message: 'VMI ns/vmi does not exist' });
  });

  it("a VMI that shut down under a started migration gives KubeVirt's text", () => {
    expect(blockerOf(vmim({ phase: 'Scheduling' }), vmi({ phase: 'Succeeded' }), migratable)).toEqual({ reason: FailureReason.VmiGone, message: VMI_SHUTDOWN_MESSAGE });
    // Before the reconciler saw the migration, it is simply not running.
    expect(blockerOf(vmim(), vmi({ phase: 'Succeeded' }), migratable)?.message).toBe('VMI ns/vmi is not running (phase Succeeded)');
  });

  it('a VMI not running, or running elsewhere than the migration started from', () => {
    expect(blockerOf(vmim(), vmi({ phase: 'Scheduled' }), migratable)?.message).toBe('VMI ns/vmi is not running (phase Scheduled)');
    const moved = blockerOf(vmim({ phase: 'Running', migrationState: { sourceNode: 'n1' } }), vmi({ phase: 'Running', nodeName: 'n2' }), migratable);
    expect(moved).toEqual({ reason: FailureReason.VmiGone, message: 'VMI ns/vmi moved to n2 (the migration started from n1)' });
    // A final migration that moved the VMI is not blocked by its own success.
    expect(blockerOf(vmim({ phase: 'Succeeded', migrationState: { sourceNode: 'n1' } }), vmi({ phase: 'Running', nodeName: 'n2' }), migratable)).toBeUndefined();
  });

  it('a VMI that became not live-migratable, with its reason and message', () => {
    const notMigratable = () => ({ condition: { type: 'LiveMigratable' as const, status: 'False' as const, reason: 'DisksNotLiveMigratable', message: 'PVC data is not shared' } });
    expect(blockerOf(vmim({ phase: 'PreparingTarget', migrationState: { sourceNode: 'n1' } }), vmi({ phase: 'Running', nodeName: 'n1' }), notMigratable)).toEqual({
      reason: FailureReason.NotMigratable,
      message: 'Cannot migrate VMI, Reason: DisksNotLiveMigratable, Message: PVC data is not shared',
    });
  });

  it('a running, migratable VMI on its source blocks nothing', () => {
    expect(blockerOf(vmim({ phase: 'TargetReady', migrationState: { sourceNode: 'n1' } }), vmi({ phase: 'Running', nodeName: 'n1' }), migratable)).toBeUndefined();
  });
});

describe('readinessOf (a queued migration and its VMI)', () => {
  const live = (status: 'True' | 'False' | 'Unknown', reason?: string, message?: string) => [{ type: 'LiveMigratable' as const, status, reason, message }];

  it('a VMI running on a node and LiveMigratable=True is ready, from that node', () => {
    expect(readinessOf(vmim(), vmi({ phase: 'Running', nodeName: 'n1', conditions: live('True') }))).toEqual({ kind: 'ready', sourceNode: 'n1' });
  });

  it('a VMI that has not started yet is waited for, whatever its LiveMigratable', () => {
    for (const phase of [undefined, 'Pending', 'Scheduling', 'Scheduled', 'Unknown'] as const) {
      const readiness = readinessOf(vmim({ phase: 'Scheduling' }), vmi({ ...(phase ? { phase } : {}), conditions: live('True') }));
      expect(readiness).toEqual({
        kind: 'wait',
        reason: 'VMINotRunning',
        message: `VMI ns/vmi is not running yet (phase ${phase ?? '<none>'}); the migration starts once it runs`,
      });
    }
    // Running but not yet placed on a node reads as not running.
    expect(readinessOf(vmim(), vmi({ phase: 'Running', conditions: live('True') }))).toMatchObject({ kind: 'wait', reason: 'VMINotRunning' });
  });

  it('a running VMI not evaluated yet (no condition, or Unknown) is waited for', () => {
    expect(readinessOf(vmim(), vmi({ phase: 'Running', nodeName: 'n1' }))).toEqual({
      kind: 'wait',
      reason: 'VMINotEvaluated',
      message: 'VMI ns/vmi has not been evaluated for live migration yet (LiveMigratable absent); the migration starts once it is LiveMigratable',
    });
    expect(readinessOf(vmim(), vmi({ phase: 'Running', nodeName: 'n1', conditions: live('Unknown') }))).toMatchObject({ kind: 'wait', reason: 'VMINotEvaluated' });
  });

  it("LiveMigratable=False fails with KubeVirt's text; a gone or finished VMI fails as gone", () => {
    const notMigratable = vmi({ phase: 'Running', nodeName: 'n1', conditions: live('False', 'DisksNotLiveMigratable', 'PVC data is not shared') });
    expect(readinessOf(vmim(), notMigratable)).toEqual({
      kind: 'fail',
      blocker: { reason: FailureReason.NotMigratable, message: 'Cannot migrate VMI, Reason: DisksNotLiveMigratable, Message: PVC data is not shared' },
    });
    expect(readinessOf(vmim(), undefined)).toEqual({ kind: 'fail', blocker: { reason: FailureReason.VmiGone, message: 'VMI ns/vmi does not exist' } });
    expect(readinessOf(vmim(), vmi({ phase: 'Failed' }))).toEqual({ kind: 'fail', blocker: { reason: FailureReason.VmiGone, message: VMI_SHUTDOWN_MESSAGE } });
    expect(readinessOf(vmim(), vmi({ phase: 'Scheduling' }, true))).toMatchObject({ kind: 'fail' });
  });
});
