import { describe, expect, it } from '@jest/globals';
import { decideLease } from './lease-policy.js';

const now = Date.parse('2026-11-28T10:00:00Z');

describe('decideLease', () => {
  it('takes a lease nobody holds', () => {
    expect(decideLease(undefined, 'a', now)).toEqual({ action: 'acquire', previousHolder: undefined });
    expect(decideLease({ holderIdentity: '' }, 'a', now)).toEqual({ action: 'acquire', previousHolder: undefined });
  });

  it('renews its own lease', () => {
    expect(decideLease({ holderIdentity: 'a', renewTime: new Date(now - 60_000), leaseDurationSeconds: 15 }, 'a', now)).toEqual({ action: 'renew' });
  });

  it('waits while another holder renews in time', () => {
    const lease = { holderIdentity: 'b', renewTime: new Date(now - 5_000).toISOString(), leaseDurationSeconds: 15 };
    expect(decideLease(lease, 'a', now)).toEqual({ action: 'wait', holder: 'b', expiresInMs: 10_000 });
  });

  it('takes over a lease whose holder stopped renewing', () => {
    const lease = { holderIdentity: 'b', renewTime: new Date(now - 15_001).toISOString(), leaseDurationSeconds: 15 };
    expect(decideLease(lease, 'a', now)).toEqual({ action: 'acquire', previousHolder: 'b' });
  });
});
