import { describe, expect, it } from '@jest/globals';
import { reconcilerUpdatesExempt, serviceAccountUsername } from './registration.js';

describe('reconcilerUpdatesExempt', () => {
  it("leaves out only the reconciler's updates", () => {
    expect(reconcilerUpdatesExempt(serviceAccountUsername('lm', 'rel-reconciler'))).toEqual({
      name: 'not-reconciler-updates',
      expression: "!(request.operation == 'UPDATE' && request.userInfo.username == 'system:serviceaccount:lm:rel-reconciler')",
    });
  });

  it('refuses a username that would break out of the CEL string', () => {
    expect(() => reconcilerUpdatesExempt("x' || true || '")).toThrow('cannot be quoted in CEL');
  });
});
