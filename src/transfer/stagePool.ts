/** A controller that also aborts when any of `outer` does (AbortSignal.any needs node 20). */
export function linkedController(outer: (AbortSignal | undefined)[]): {
  controller: AbortController;
  unlink: () => void;
} {
  const controller = new AbortController();
  const unlinks: (() => void)[] = [];
  for (const signal of outer) {
    if (!signal) continue;
    if (signal.aborted) controller.abort(signal.reason);
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    unlinks.push(() => signal.removeEventListener('abort', onAbort));
  }
  return {
    controller,
    unlink: () => {
      for (const u of unlinks) u();
    },
  };
}

/**
 * Runs `task` over `items`, at most `concurrency` at a time, results in item order. The first
 * failure aborts `controller` (the others stop) and is thrown once all have settled; an abort
 * from outside throws its reason.
 */
export async function runBounded<I extends { index: number }, T>(
  items: readonly I[],
  concurrency: number,
  controller: AbortController,
  task: (item: I) => Promise<T>,
): Promise<T[]> {
  const { signal } = controller;
  const results: T[] = new Array(items.length);
  let failure: unknown;
  let next = 0;
  async function worker(): Promise<void> {
    while (!signal.aborted) {
      const item = items[next++];
      if (!item) return;
      try {
        results[item.index] = await task(item);
      } catch (err) {
        if (!signal.aborted) {
          failure = err;
          controller.abort(err);
        }
        return;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (failure !== undefined || signal.aborted) throw failure ?? signal.reason;
  return results;
}
