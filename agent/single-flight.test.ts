import { describe, expect, it } from '@jest/globals';
import { SingleFlight } from './single-flight.js';

describe('SingleFlight', () => {
  it('concurrent calls for one key run once and share the outcome; the key is free again afterwards', async () => {
    const flight = new SingleFlight<string, number>();
    let runs = 0;
    const fn = async () => {
      runs += 1;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return runs;
    };
    const answers = await Promise.all([flight.run('a', fn), flight.run('a', fn), flight.run('a', fn)]);
    expect(answers).toEqual([1, 1, 1]);
    expect(runs).toBe(1);
    expect(flight.size).toBe(0);
    expect(await flight.run('a', fn)).toBe(2);
  });

  it('shares a failure too, and different keys run side by side', async () => {
    const flight = new SingleFlight<string, string>();
    let runs = 0;
    const failing = async () => {
      runs += 1;
      throw new Error('refused');
    };
    const results = await Promise.allSettled([flight.run('x', failing), flight.run('x', failing), flight.run('y', async () => 'y')]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['refused', 'refused', 'y']);
    expect(runs).toBe(1);
    expect(flight.get('x')).toBeUndefined();
  });
});
