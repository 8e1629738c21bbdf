import { type BackoffPolicy, backoffDelay, isLrtError, type Logger, sleep } from '../core';

/** Errors that mean "the database is away for now", worth waiting out. */
export function isTransientDbError(err: unknown): boolean {
  if (!isLrtError(err)) return false;
  if (err.code === 'E_DB_UNREACHABLE') return true;
  const status = err.details.status;
  return err.code === 'E_DB' && typeof status === 'number' && status >= 500;
}

/** 0.5 s, 1 s, 2 s ... 30 s, each 0.5-1 times that: a restarting server is not hammered. */
const DB_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 30_000, jitter: 'equal' };

export interface DbRetryOptions {
  what: string;
  maxWaitMs: number;
  logger: Logger;
  signal?: AbortSignal;
  clock?: () => number;
  rng?: () => number;
}

/**
 * Runs `operation`, waiting out database outages (restart, network blip) with capped, jittered
 * backoff up to `maxWaitMs`; any other error, or an outage longer than that, is thrown.
 */
export async function withDbRetry<T>(operation: () => Promise<T>, options: DbRetryOptions): Promise<T> {
  const clock = options.clock ?? Date.now;
  const rng = options.rng ?? Math.random;
  const started = clock();
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation();
    } catch (err) {
      if (!isTransientDbError(err)) throw err;
      const waited = clock() - started;
      if (waited >= options.maxWaitMs) throw err;
      const delay = Math.min(options.maxWaitMs - waited, backoffDelay(attempt + 1, DB_BACKOFF, rng));
      options.logger.warn(
        { attempt: attempt + 1, delayMs: Math.round(delay) },
        `${options.what}: database unavailable, retrying`,
      );
      await sleep(delay, options.signal);
    }
  }
}
