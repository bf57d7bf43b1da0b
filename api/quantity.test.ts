import { describe, expect, it } from '@jest/globals';
import { formatBinaryQuantity, parseQuantity, QUANTITY_PATTERN } from './quantity.js';

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

  describe('bounded before any arithmetic', () => {
    // Once a stall of the event loop (10n ** 300000000n); now refused from the text alone.
    it.each(['1e300000000', '1E-300000000', '5e100', '1e19', '1e-19'])('refuses the exponent of %s', (input) => {
      expect(() => parseQuantity(input)).toThrow(/has a decimal exponent beyond ±18/);
    });

    it('refuses a quantity longer than 64 characters, showing only its start', () => {
      const long = `${'9'.repeat(100_000)}Ki`;
      expect(() => parseQuantity(long)).toThrow(/is too long for a quantity \(100002 characters, at most 64\)/);
      try {
        parseQuantity(long);
      } catch (error) {
        expect((error as Error).message.length).toBeLessThan(200);
      }
    });

    it.each([
      ['1e18', undefined],
      ['8e18', undefined],
      ['9e15', 9e15],
      ['1E3', 1000],
      ['1e-3', undefined],
      ['1000e-3', 1],
      ['1e09', 1_000_000_000],
      [`${'0'.repeat(60)}64Mi`, 64 * 1024 ** 2],
    ])('still parses %s exactly within the bounds', (input, expected) => {
      if (expected === undefined) expect(() => parseQuantity(input)).toThrow(/too large|not a whole number/);
      else expect(parseQuantity(input)).toBe(expected);
    });

    it('the schema pattern bounds the exponent too', () => {
      const pattern = new RegExp(QUANTITY_PATTERN);
      for (const ok of ['64Mi', '2e6', '1e18', '1E-9', '1e09', '0.5Gi']) expect(pattern.test(ok)).toBe(true);
      for (const bad of ['1e19', '1e300000000', '1e-100', '64MB']) expect(pattern.test(bad)).toBe(false);
    });
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
