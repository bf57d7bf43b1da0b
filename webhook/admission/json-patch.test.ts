import { describe, expect, it } from '@jest/globals';
import { applyPatch, diff } from './json-patch.js';

describe('diff', () => {
  it('round-trips through applyPatch for nested objects and arrays', () => {
    const cases: Array<[unknown, unknown]> = [
      [{ a: 1, b: { c: [1, 2] } }, { a: 2, b: { c: [1, 2, 3], d: 'x' } }],
      [{ list: [1, 2, 3], gone: true }, { list: [1] }],
      [{ 'a/b': { '~x': 1 } }, { 'a/b': { '~x': 2 } }],
      [{ v: 'string' }, { v: { now: 'object' } }],
    ];
    for (const [from, to] of cases) expect(applyPatch(from, diff(from, to))).toEqual(to);
  });

  it('returns no operations for equal documents', () => {
    expect(diff({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toEqual([]);
  });

  it('appends with "-" rather than replacing an array', () => {
    expect(diff({ f: ['a'] }, { f: ['a', 'b'] })).toEqual([{ op: 'add', path: '/f/-', value: 'b' }]);
  });
});
