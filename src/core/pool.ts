/*
 * The one bounded-concurrency pool: stage-in batches, gfal queries, staging releases. The first
 * failure stops the rest, so a broken transfer does not leave others running unseen.
 */

/**
 * Runs `work` on every item, at most `concurrency` at once; results in input order. The first
 * failure starts no new item, aborts `controller` (work watching its signal stops) and is thrown
 * once the running items have settled; an abort from outside throws its reason.
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<R>,
  controller: AbortController = new AbortController(),
): Promise<R[]> {
  const { signal } = controller;
  const results = new Array<R>(items.length);
  let failure: { err: unknown } | undefined;
  let next = 0;
  const worker = async () => {
    while (!signal.aborted) {
      const index = next++;
      if (index >= items.length) return;
      try {
        results[index] = await work(items[index]!, index);
      } catch (err) {
        if (!signal.aborted) {
          failure = { err };
          controller.abort(err);
        }
        return;
      }
    }
  };
  const lanes = Math.max(1, Math.min(Math.floor(concurrency) || 1, items.length));
  await Promise.all(Array.from({ length: lanes }, worker));
  if (failure) throw failure.err;
  if (signal.aborted) throw signal.reason;
  return results;
}

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
