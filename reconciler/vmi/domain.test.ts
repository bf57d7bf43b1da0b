import { describe, expect, it } from '@jest/globals';
import { readGuestMemoryBytes } from './domain.js';

describe('readGuestMemoryBytes', () => {
  it('prefers memory.guest, then requests, then limits', () => {
    expect(readGuestMemoryBytes({ domain: { memory: { guest: '2Gi' }, resources: { requests: { memory: '1Gi' } } } })).toBe(2 * 2 ** 30);
    expect(readGuestMemoryBytes({ domain: { resources: { requests: { memory: '1Gi' }, limits: { memory: '4Gi' } } } })).toBe(2 ** 30);
    expect(readGuestMemoryBytes({ domain: { resources: { limits: { memory: '512Mi' } } } })).toBe(512 * 2 ** 20);
  });

  it('is undefined when nothing readable is there', () => {
    expect(readGuestMemoryBytes(undefined)).toBeUndefined();
    expect(readGuestMemoryBytes({ domain: { memory: { guest: 'lots' } } })).toBeUndefined();
  });
});
