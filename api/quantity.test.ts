import { describe, expect, it } from '@jest/globals';
import { formatBinaryQuantity, parseQuantity } from './quantity.js';

describe('parseQuantity', () => {
  it.each([
    ['64Mi', 64 * 1024 ** 2],
    ['1Gi', 1024 ** 3],
    ['500M', 500_000_000],
    ['1.5Gi', 1.5 * 1024 ** 3],
    ['1k', 1000],
    ['2e6', 2_000_000],
    ['0', 0],
    ['+3Ki', 3072],
    ['1500m', undefined],
  ])('parses %s exactly', (input, expected) => {
    if (expected === undefined) expect(() => parseQuantity(input)).toThrow('not a whole number of bytes');
    else expect(parseQuantity(input)).toBe(expected);
  });

  it('keeps precision a float would lose', () => {
    expect(() => parseQuantity('1.1Gi')).toThrow('not a whole number');
    expect(parseQuantity('0.5Ki')).toBe(512);
    expect(parseQuantity('1.25Gi')).toBe(1342177280);
    expect(parseQuantity('0.1G')).toBe(100_000_000);
  });

  it.each(['', 'Mi', '64 MiB', '64mi', '1..2', 'abc', '--1'])('rejects %j with the reason', (input) => {
    expect(() => parseQuantity(input)).toThrow('is not a Kubernetes quantity');
  });

  it('rejects values beyond exact integers', () => {
    expect(() => parseQuantity('16Ei')).toThrow('too large');
  });

  it('accepts plain numbers as YAML gives them', () => {
    expect(parseQuantity(67108864)).toBe(67108864);
    expect(() => parseQuantity(1.5)).toThrow('not a whole number');
  });
});

describe('formatBinaryQuantity', () => {
  it('gives the shortest exact form', () => {
    expect(formatBinaryQuantity(64 * 1024 ** 2)).toBe('64Mi');
    expect(formatBinaryQuantity(1536 * 1024 ** 2)).toBe('1536Mi');
    expect(formatBinaryQuantity(1000)).toBe('1000');
  });
});
