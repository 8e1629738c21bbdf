import { setTimeout as delay } from 'node:timers/promises';

/*
 * The one exponential backoff, the one abortable sleep and the one time limit on a promise: transfer retries, the claim's wait
 * after a contended round, the pilot's database retries and its lease renewals.
 */

export interface BackoffPolicy {
  /** Ceiling of the first retry's wait. */
  baseMs: number;
  /** No wait is longer. */
  maxMs: number;
  /**
   * `full`: anywhere in [0, ceiling] (AWS's "full jitter": spreads a crowd the most);
   * `equal`: in [ceiling/2, ceiling] (never much shorter than asked: for a server that is away).
   */
  jitter?: 'full' | 'equal';
}

export type Rng = () => number;

/** The wait before retry `retry` (1 = the first retry): min(maxMs, baseMs * 2^(retry-1)), jittered. */
export function backoffDelay(retry: number, policy: BackoffPolicy, rng: Rng): number {
  const exponent = Math.min(Math.max(0, retry - 1), 30);
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  const r = Math.min(Math.max(rng(), 0), 1);
  const share = policy.jitter === 'equal' ? 0.5 + r / 2 : r;
  return Math.floor(share * ceiling);
}

/** The waits before each of `retries` retries. */
export function backoffSchedule(retries: number, policy: BackoffPolicy, rng: Rng): number[] {
  return Array.from({ length: retries }, (_, i) => backoffDelay(i + 1, policy, rng));
}

/**
 * Sleeps `ms`; rejects with the signal's own reason when it fires (timers/promises rejects with a
 * generic AbortError, and removes its listener when the timer ends: hand-made ones piled up).
 */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : {});
  } catch (err) {
    throw signal?.aborted ? signal.reason : err;
  }
}

/**
 * `work`, or a rejection with `timeoutError()` once `ms` have passed. The work itself goes on (a
 * promise cannot be stopped); should it fail after the limit, that failure goes nowhere.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, timeoutError: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(timeoutError()), ms);
  });
  work.catch(() => undefined);
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
