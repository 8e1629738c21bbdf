import { setTimeout } from 'node:timers/promises';
import type { Logger } from '../core';
import { isLrtError } from '../core';

/** Errors that mean "the database is away for now", worth waiting out. */
export function isTransientDbError(err: unknown): boolean {
  if (!isLrtError(err)) return false;
  if (err.code === 'E_DB_UNREACHABLE') return true;
  const status = err.details.status;
  return err.code === 'E_DB' && typeof status === 'number' && status >= 500;
}

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
      const delay = Math.min(
        options.maxWaitMs - waited,
        Math.min(30_000, 500 * 2 ** attempt) * (0.5 + rng() / 2),
      );
      options.logger.warn(
        { attempt: attempt + 1, delayMs: Math.round(delay) },
        `${options.what}: database unavailable, retrying`,
      );
      // timers/promises removes its abort listener when the timer fires (ours piled up).
      await setTimeout(delay, undefined, { signal: options.signal }).catch((err: unknown) => {
        throw options.signal?.aborted ? options.signal.reason : err;
      });
    }
  }
}
