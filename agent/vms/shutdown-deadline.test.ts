import { describe, expect, it } from '@jest/globals';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { DEFAULT_GRACE_SECONDS, shutdownDeadlineMs, shutdownStep } from './shutdown-deadline.js';

const vmi = (grace: number | undefined, deletionTimestamp?: string): VirtualMachineInstance =>
  ({
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: { name: 'vm', namespace: 'ns', uid: 'u', ...(deletionTimestamp ? { deletionTimestamp } : {}) },
    spec: grace === undefined ? {} : { terminationGracePeriodSeconds: grace },
  }) as VirtualMachineInstance;

describe('shutdownDeadlineMs', () => {
  const now = Date.parse('2026-12-02T10:00:30Z');

  it('a VMI being deleted: deletionTimestamp + grace, the same whenever (and by whichever agent) it is computed', () => {
    const deleting = vmi(5, '2026-12-02T10:00:00Z');
    expect(shutdownDeadlineMs(deleting, now)).toBe(Date.parse('2026-12-02T10:00:05Z'));
    expect(shutdownDeadlineMs(deleting, now + 60_000)).toBe(Date.parse('2026-12-02T10:00:05Z'));
  });

  it('no deletion (an orphan, a VM that outlived its final phase): now + grace, KubeVirt’s 30 s by default', () => {
    expect(shutdownDeadlineMs(vmi(4), now)).toBe(now + 4000);
    expect(shutdownDeadlineMs(undefined, now)).toBe(now + DEFAULT_GRACE_SECONDS * 1000);
    expect(shutdownDeadlineMs(vmi(-1, '2026-12-02T10:00:00Z'), now)).toBe(Date.parse('2026-12-02T10:00:00Z') + DEFAULT_GRACE_SECONDS * 1000);
  });
});

describe('shutdownStep', () => {
  it('the first step records the deadline and asks the guest (ACPI) while there is time', () => {
    expect(shutdownStep(undefined, 5000, 1000)).toEqual({ deadlineMs: 5000, record: true, requestGuestShutdown: true, destroy: false });
  });

  it('grace 0 (or a deadline already past, e.g. an agent that was down through it): destroy at once, no ACPI', () => {
    expect(shutdownStep(undefined, 1000, 1000)).toEqual({ deadlineMs: 1000, record: true, requestGuestShutdown: false, destroy: true });
  });

  it('after a restart the recorded deadline holds: a later request (a fresh now + grace) does not extend it', () => {
    expect(shutdownStep(5000, 9000, 3000)).toEqual({ deadlineMs: 5000, record: false, requestGuestShutdown: false, destroy: false });
    expect(shutdownStep(5000, 9000, 5000)).toEqual({ deadlineMs: 5000, record: false, requestGuestShutdown: false, destroy: true });
  });

  it('an earlier deadline (the VMI got deleted with a shorter grace) replaces the recorded one', () => {
    expect(shutdownStep(9000, 5000, 6000)).toEqual({ deadlineMs: 5000, record: true, requestGuestShutdown: false, destroy: true });
  });
});
