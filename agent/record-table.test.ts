import { describe, expect, it } from '@jest/globals';
import { RecordTable } from './record-table.js';

describe('RecordTable', () => {
  it('keeps live records, and only the newest finished ones', () => {
    const evicted: string[] = [];
    const table = new RecordTable<number>({ maxFinished: 2, finishedTtlMs: 60_000, onEvict: (key) => evicted.push(key) });
    for (let i = 0; i < 5; i++) table.set(`m${i}`, i, 0);
    for (const key of ['m0', 'm1', 'm2']) table.finish(key, 10);
    table.finish('m1', 20); // a second finish changes nothing
    expect(evicted).toEqual(['m0']);
    expect([...table.values()].sort()).toEqual([1, 2, 3, 4]);
    expect(table.finishedCount).toBe(2);
    expect(table.isFinished('m1')).toBe(true);
    expect(table.isFinished('m3')).toBe(false);
  });

  it('drops finished records after their time to live, and live ones after theirs when given', () => {
    const table = new RecordTable<string>({ maxFinished: 100, finishedTtlMs: 1_000, activeTtlMs: 5_000 });
    table.set('done', 'a', 0);
    table.set('forgotten', 'b', 0);
    table.finish('done', 0);
    table.prune(1_001);
    expect(table.has('done')).toBe(false);
    expect(table.has('forgotten')).toBe(true);
    table.set('fresh', 'c', 4_000);
    table.prune(5_001);
    expect(table.has('forgotten')).toBe(false);
    expect(table.get('fresh')).toBe('c');
  });
});
