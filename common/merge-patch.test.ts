import { describe, expect, it } from '@jest/globals';
import { mergePatchBetween } from './merge-patch.js';

describe('mergePatchBetween', () => {
  it('removes keys the new value lacks (as null), at every depth, and sends only what changed', () => {
    const from = { migrationUid: 'm1', failureReason: 'Aborted: x', abortRequested: true, config: { a: 1, b: 2 }, same: 'x' };
    const to = { migrationUid: 'm2', config: { a: 1 }, same: 'x' };
    expect(mergePatchBetween(from, to)).toEqual({ failureReason: null, abortRequested: null, migrationUid: 'm2', config: { b: null } });
  });

  it('replaces arrays and scalars whole, and a non-object side outright', () => {
    expect(mergePatchBetween({ list: [1, 2] }, { list: [1] })).toEqual({ list: [1] });
    expect(mergePatchBetween(undefined, { a: 1 })).toEqual({ a: 1 });
  });
});
