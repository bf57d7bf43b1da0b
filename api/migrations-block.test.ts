import { describe, expect, it } from '@jest/globals';
import { boundWarnings, MAX_WARNING_LENGTH, MAX_WARNINGS, parseMigrationsBlock } from './migrations-block.js';

describe('boundWarnings', () => {
  it('keeps every warning when there are few and short ones', () => {
    expect(boundWarnings([{ path: 'migrations.network', reason: 'no effect' }], 'data.')).toEqual(['data.migrations.network: no effect']);
  });

  it('keeps at most MAX_WARNINGS, the last one counting the rest', () => {
    const block = Array.from({ length: 50 }, (_, i) => `unknownKey${i}: 1`).join('\n');
    const warnings = boundWarnings(parseMigrationsBlock(block).warnings, 'data.');
    expect(warnings).toHaveLength(MAX_WARNINGS);
    expect(warnings[0]).toBe('data.migrations.unknownKey0: unknown key, ignored');
    expect(warnings[MAX_WARNINGS - 1]).toBe(`… and ${50 - (MAX_WARNINGS - 1)} more warnings about data.migrations`);
  });

  it('shortens a long key and a long warning', () => {
    const key = 'k'.repeat(500);
    const [warning] = boundWarnings(parseMigrationsBlock(`${key}: 1`).warnings);
    expect(warning).toBe(`migrations.${'k'.repeat(64)}…: unknown key, ignored`);
    const [long] = boundWarnings([{ path: 'migrations.x', reason: 'y'.repeat(1000) }]);
    expect(long?.length).toBe(MAX_WARNING_LENGTH);
  });
});

describe('parseMigrationsBlock', () => {
  it('gives no warnings when the block is refused', () => {
    expect(parseMigrationsBlock('network: n\nprogressTimeout: x')).toMatchObject({ values: {}, warnings: [], issues: [{ path: 'migrations.progressTimeout' }] });
  });

  it('takes an empty value as not set, as KubeVirt did', () => {
    expect(parseMigrationsBlock('progressTimeout:\nnetwork: ~\nparallelMigrationsPerCluster: 3')).toEqual({ values: { parallelMigrationsPerCluster: 3 }, issues: [], warnings: [] });
  });

  it('does not read integers beyond exact numbers', () => {
    expect(parseMigrationsBlock('progressTimeout: "99999999999999999999"').issues).toEqual([
      { path: 'migrations.progressTimeout', reason: 'must be a positive integer (got "99999999999999999999")' },
    ]);
  });

  it('does not take a key of Object.prototype for a known one', () => {
    expect(parseMigrationsBlock('constructor: 1\ntoString: 2').warnings.map((w) => w.reason)).toEqual(['unknown key, ignored', 'unknown key, ignored']);
  });
});
