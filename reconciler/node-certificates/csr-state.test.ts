import { describe, expect, it } from '@jest/globals';
import { csrStep, lifetimeSeconds } from './csr-state.js';

describe('csrStep', () => {
  it.each([
    ['new', {}, 'decide'],
    ['approved', { status: { conditions: [{ type: 'Approved', status: 'True' }] } }, 'sign'],
    ['issued', { status: { certificate: 'LS0t', conditions: [{ type: 'Approved', status: 'True' }] } }, 'none'],
    ['denied', { status: { conditions: [{ type: 'Denied', status: 'True' }] } }, 'none'],
    ['approved, then failed to sign', { status: { conditions: [{ type: 'Approved', status: 'True' }, { type: 'Failed', status: 'True' }] } }, 'none'],
    ['an Approved condition that is False', { status: { conditions: [{ type: 'Approved', status: 'False' }] } }, 'decide'],
  ])('%s → %s', (_what, csr, step) => expect(csrStep(csr)).toBe(step));
});

describe('lifetimeSeconds', () => {
  it('gives what is asked up to the maximum', () => {
    expect(lifetimeSeconds({ spec: { expirationSeconds: 3600 } }, 86400)).toBe(3600);
    expect(lifetimeSeconds({ spec: { expirationSeconds: 10 * 86400 } }, 86400)).toBe(86400);
    expect(lifetimeSeconds({}, 86400)).toBe(86400);
  });
});
