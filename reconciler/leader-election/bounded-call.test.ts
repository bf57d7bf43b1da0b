import { describe, expect, it } from '@jest/globals';
import { callWithTimeout } from './bounded-call.js';

describe('callWithTimeout', () => {
  it('returns what the call returns in time', async () => {
    await expect(callWithTimeout(async () => 'ok', 1_000)).resolves.toBe('ok');
  });

  it('rejects when a call hangs, and aborts its signal', async () => {
    let seen: AbortSignal | undefined;
    const hanging = (signal: AbortSignal) => {
      seen = signal;
      return new Promise<string>(() => {});
    };
    await expect(callWithTimeout(hanging, 20)).rejects.toThrow('API call timed out after 20 ms');
    expect(seen?.aborted).toBe(true);
  });

  it('rejects at once when the parent aborts, and ignores a result that comes later', async () => {
    const parent = new AbortController();
    let finish: (value: string) => void = () => {};
    const pending = callWithTimeout(() => new Promise<string>((resolve) => (finish = resolve)), 60_000, parent);
    parent.abort(new Error('stepped down'));
    finish('late');
    await expect(pending).rejects.toThrow('stepped down');
  });

  it('rejects without calling through when the parent was already aborted', async () => {
    const parent = new AbortController();
    parent.abort(new Error('stopped'));
    await expect(callWithTimeout(async (signal) => (signal.aborted ? 'aborted' : 'ran'), 1_000, parent)).rejects.toThrow('stopped');
  });
});
