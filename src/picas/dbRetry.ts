import { type BackoffPolicy, backoffDelay, isLrtError, type Logger, sleep } from '../core';

/*
 * The one retry of database requests: outages (a restart, a network blip, HTTP 5xx) waited out up
 * to a limit, and a view index still being built (CouchDB's timeout) waited for with a message.
 */

/** Errors that mean "the database is away for now", worth waiting out. */
export function isTransientDbError(err: unknown): boolean {
  if (isIndexTimeout(err)) return true;
  if (!isLrtError(err)) return false;
  if (err.code === 'E_DB_UNREACHABLE') return true;
  const status = err.details.status;
  return err.code === 'E_DB' && typeof status === 'number' && status >= 500;
}

interface HttpErrorShape {
  statusCode?: number;
  error?: string;
  details?: { status?: unknown; error?: unknown };
}

/**
 * The server gave up waiting for a view index (docs/couchdb-rules.md, rule 19): CouchDB answers a
 * view read whose index is being built for longer than its request timeout (60 s by default) with
 * HTTP 500 `{"error":"timeout","reason":"The request could not be processed in a reasonable amount
 * of time."}`; a proxy in front of it answers 504. Decided on the status and the `error` code, never
 * on the reason text. Nano's error or couchError's LrtError.
 */
export function isIndexTimeout(err: unknown): boolean {
  const e = (err ?? {}) as HttpErrorShape;
  const status = e.statusCode ?? e.details?.status;
  const code = e.error ?? e.details?.error;
  return status === 504 || (status === 500 && code === 'timeout');
}

/** 0.5 s, 1 s, 2 s ... 30 s, each 0.5-1 times that: a restarting server is not hammered. */
const DB_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 30_000, jitter: 'equal' };
/**
 * After an index timeout: the server has already spent its request timeout on the build, so ask
 * again soon (1 s, 2 s ... 10 s); the next read waits on the build again.
 */
const INDEX_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 10_000, jitter: 'equal' };

/** What a retry is waiting for, for the caller's message or progress line. */
export interface DbWaitNotice {
  /** `index`: the server is building a view index; `outage`: unreachable or HTTP 5xx. */
  kind: 'index' | 'outage';
  what: string;
  attempt: number;
  /** Since the first try. */
  waitedMs: number;
  delayMs: number;
  /** One line saying what happened and that it is retried. */
  message: string;
}

export interface DbRetryOptions {
  what: string;
  /** Outages are waited out this long, then thrown (0: thrown at once). */
  maxWaitMs: number;
  /** Index timeouts are waited out this long (default: until the index is built). */
  indexWaitMs?: number;
  /** Each retry is logged here (a warning) ... */
  logger?: Logger;
  /** ... and/or reported here. */
  onWait?: (notice: DbWaitNotice) => void;
  signal?: AbortSignal;
  clock?: () => number;
  rng?: () => number;
}

function waitMessage(kind: DbWaitNotice['kind'], what: string, waitedMs: number): string {
  const waited = `${Math.round(waitedMs / 1000)} s so far`;
  return kind === 'index'
    ? `${what}: the server is still building the view index (it answered "timeout"; ${waited}), asking again`
    : `${what}: database unavailable (${waited}), retrying`;
}

/**
 * Runs `operation`, waiting out database outages (restart, network blip) with capped, jittered
 * backoff up to `maxWaitMs`, and a view index being built up to `indexWaitMs`; any other error, or
 * a wait longer than its limit, is thrown.
 */
export async function withDbRetry<T>(operation: () => Promise<T>, options: DbRetryOptions): Promise<T> {
  const clock = options.clock ?? Date.now;
  const rng = options.rng ?? Math.random;
  const started = clock();
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation();
    } catch (err) {
      const kind = isIndexTimeout(err) ? 'index' : isTransientDbError(err) ? 'outage' : undefined;
      if (!kind) throw err;
      const waited = clock() - started;
      const limit = kind === 'index' ? (options.indexWaitMs ?? Number.POSITIVE_INFINITY) : options.maxWaitMs;
      if (waited >= limit) throw err;
      const policy = kind === 'index' ? INDEX_BACKOFF : DB_BACKOFF;
      const delay = Math.min(limit - waited, backoffDelay(attempt + 1, policy, rng));
      const notice: DbWaitNotice = {
        kind,
        what: options.what,
        attempt: attempt + 1,
        waitedMs: waited,
        delayMs: Math.round(delay),
        message: waitMessage(kind, options.what, waited),
      };
      options.logger?.warn({ attempt: notice.attempt, delayMs: notice.delayMs, wait: kind }, notice.message);
      options.onWait?.(notice);
      await sleep(delay, options.signal);
    }
  }
}
