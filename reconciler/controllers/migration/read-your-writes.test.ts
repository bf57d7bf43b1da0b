import { describe, expect, it } from '@jest/globals';
import { ReadYourWrites } from './read-your-writes.js';

const obj = (uid: string, resourceVersion: string, note = '') => ({ metadata: { uid, resourceVersion, name: 'm', namespace: 'ns', annotations: { note } } });

describe('ReadYourWrites', () => {
  it('returns our write while the cache is older, then the cache once it caught up (and forgets the write)', () => {
    const overlay = new ReadYourWrites<ReturnType<typeof obj>>();
    overlay.record('ns/m', obj('u1', '12', 'mine'));
    expect(overlay.freshest('ns/m', obj('u1', '10'))?.metadata.annotations.note).toBe('mine');
    expect(overlay.freshest('ns/m', obj('u1', '12', 'cache'))?.metadata.annotations.note).toBe('cache');
    expect(overlay.size).toBe(0);
  });

  it('an object gone from the cache is gone, and one recreated under the same name is the cache', () => {
    const overlay = new ReadYourWrites<ReturnType<typeof obj>>();
    overlay.record('ns/m', obj('u1', '12'));
    expect(overlay.freshest('ns/m', undefined)).toBeUndefined();
    overlay.record('ns/m', obj('u1', '15'));
    expect(overlay.freshest('ns/m', obj('u2', '3'))?.metadata.uid).toBe('u2');
    expect(overlay.size).toBe(0);
  });
});
