// An API call that cannot outlast its timeout: the signal closes the request, and the race makes
// the caller move on (and ignore any late result) even if the client does not honour the signal
// at every step (e.g. credential plugins run before the request is sent).

/** Runs `call` with a signal aborted after `timeoutMs` or when `parent` aborts; rejects at that moment. */
export async function callWithTimeout<T>(call: (signal: AbortSignal) => Promise<T>, timeoutMs: number, parent?: AbortController): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`API call timed out after ${timeoutMs} ms`)), timeoutMs);
  const onParentAbort = (): void => controller.abort(parent?.signal.reason);
  if (parent?.signal.aborted) onParentAbort();
  parent?.signal.addEventListener('abort', onParentAbort, { once: true });
  let rejectOnAbort: (reason: unknown) => void = () => {};
  const aborted = new Promise<never>((_, reject) => {
    rejectOnAbort = reject;
  });
  aborted.catch(() => {});
  const onAbort = (): void => rejectOnAbort(controller.signal.reason);
  if (controller.signal.aborted) onAbort();
  controller.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const pending = call(controller.signal);
    // The call's own rejection after an abort is expected; only the race's outcome matters.
    pending.catch(() => {});
    const result = await Promise.race([pending, aborted]);
    // Settled in the same turn as the abort: the abort wins, so a late success is never used.
    if (controller.signal.aborted) throw controller.signal.reason;
    return result;
  } finally {
    clearTimeout(timer);
    parent?.signal.removeEventListener('abort', onParentAbort);
    controller.signal.removeEventListener('abort', onAbort);
  }
}
