import { describe, expect, it } from '@jest/globals';
import { planHold, waitingCondition, WAITING_CONDITION } from './waiting-plan.js';

const S = 1000;
const T0 = Date.parse('2026-03-01T10:00:00Z');
const at = (ms: number) => new Date(ms).toISOString();
const timeouts = { unschedulableTimeout: 300, targetReadyTimeout: 120 };
const notRunning = { reason: 'VMINotRunning', message: 'VMI ns/vm is not running yet (phase Scheduling); the migration starts once it runs' };
const notEvaluated = { reason: 'VMINotEvaluated', message: 'VMI ns/vm has not been evaluated for live migration yet' };
const noNode = { reason: 'NoEligibleNode', message: '0/1 nodes eligible' };

describe('planHold', () => {
  it('a new wait writes its reason, starting its clock now', () => {
    expect(planHold(undefined, notRunning, T0, timeouts)).toEqual({
      action: 'write',
      condition: { type: WAITING_CONDITION, status: 'False', reason: 'VMINotRunning', message: notRunning.message, lastTransitionTime: at(T0) },
    });
    // After a granted slot (status True) a wait starts afresh.
    const granted = { type: WAITING_CONDITION, status: 'True' as const, reason: 'SlotGranted', lastTransitionTime: at(T0) };
    expect(planHold(granted, { reason: 'ClusterLimit', message: 'x' }, T0 + S, timeouts)).toMatchObject({ action: 'write', condition: { lastTransitionTime: at(T0 + S) } });
  });

  it('waiting for the VMI fails VmiNotReady after unschedulableTimeout, and says why it waited', () => {
    const current = waitingCondition(notRunning, at(T0));
    expect(planHold(current, notRunning, T0 + 299 * S, timeouts)).toEqual({ action: 'wait', dueInMs: S });
    expect(planHold(current, notRunning, T0 + 300 * S, timeouts)).toEqual({
      action: 'fail',
      reason: 'VmiNotReady',
      message: `the VMI was not running and live-migratable within 300s: ${notRunning.message}`,
    });
  });

  it('a VMI that starts running but is not yet evaluated keeps the one clock', () => {
    const current = waitingCondition(notRunning, at(T0));
    expect(planHold(current, notEvaluated, T0 + 100 * S, timeouts)).toEqual({ action: 'write', condition: waitingCondition(notEvaluated, at(T0)) });
    expect(planHold(waitingCondition(notEvaluated, at(T0)), notEvaluated, T0 + 300 * S, timeouts)).toMatchObject({ action: 'fail', reason: 'VmiNotReady' });
  });

  it('from waiting for the VMI to waiting for a node: a new clock, failing Unschedulable', () => {
    const vmiWait = waitingCondition(notRunning, at(T0));
    expect(planHold(vmiWait, noNode, T0 + 200 * S, timeouts)).toEqual({ action: 'write', condition: waitingCondition(noNode, at(T0 + 200 * S)) });
    const nodeWait = waitingCondition(noNode, at(T0 + 200 * S));
    expect(planHold(nodeWait, noNode, T0 + 500 * S, timeouts)).toMatchObject({ action: 'fail', reason: 'Unschedulable' });
  });

  it('flips between limits are neither written nor timed', () => {
    const current = waitingCondition({ reason: 'ClusterLimit', message: '5 running' }, at(T0));
    expect(planHold(current, { reason: 'OutboundLimit', message: '2 out of n1' }, T0 + 10_000 * S, timeouts)).toEqual({ action: 'wait' });
  });
});
