import { describe, expect, it } from '@jest/globals';
import { TAINT_KEY_PATTERN, taintKeyProblem } from './taint-key.js';

describe('taintKeyProblem', () => {
  it.each(['kubevirt.io/drain', 'drain', 'node.kubernetes.io/unschedulable', 'a', 'example.com/A_b.c-9'])('accepts %s', (key) => {
    expect(taintKeyProblem(key)).toBeUndefined();
    expect(new RegExp(TAINT_KEY_PATTERN).test(key)).toBe(true);
  });

  it.each([
    ['', 'is not a taint key: "" must be 1-63 letters'],
    ['kubevirt.io/', 'is not a taint key: "" must be 1-63 letters'],
    ['-drain', 'is not a taint key: "-drain" must be 1-63 letters'],
    ['Example.com/drain', 'is not a taint key: prefix "Example.com" must be a DNS subdomain'],
    ['a/b/c', 'is not a taint key: prefix "a/b" must be a DNS subdomain'],
    [`x/${'n'.repeat(64)}`, `is not a taint key: "${'n'.repeat(64)}" must be 1-63 letters`],
    ['k'.repeat(400), 'is not a taint key (400 characters, at most 317)'],
  ])('refuses %j', (key, reason) => {
    expect(taintKeyProblem(key)).toContain(reason);
    expect(new RegExp(TAINT_KEY_PATTERN).test(key)).toBe(false);
  });
});
