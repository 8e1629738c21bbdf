import {
  type BackoffPolicy,
  backoffDelay,
  type ErrorCode,
  isLrtError,
  LrtError,
  type Rng,
  sleep,
} from '../core';

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 2000, maxMs: 60_000 };

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The real abortable sleep (core/backoff.ts); tests give withRetries one that records instead. */
export const realSleep: Sleep = sleep;

// Retrying cannot help these: the credential, the file or its tape state, the input or the tools.
const NEVER_RETRIED: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'E_TRANSFER_AUTH',
  'E_NOT_FOUND',
  'E_NOT_STAGED',
  'E_TOOL_MISSING',
  'E_USAGE',
  'E_CONFIG',
  'E_SURL',
  'E_SURL_LIST',
  'E_UNSAFE_ENTRY',
  'E_SANDBOX',
  'E_EXISTS',
  'E_IO',
]);

/** A corrupt copy may be the network's fault once; twice in a row it is the stored file. */
export const MAX_CHECKSUM_FAILURES = 2;

/**
 * Whether a failed attempt may be tried again. Network and unknown failures: yes. Auth, missing
 * file, file on tape, bad input, missing tool, local disk: no. A checksum mismatch: once more.
 */
export function isRetryable(err: unknown, checksumFailures: number): boolean {
  if (!isLrtError(err)) return true;
  if (err.code === 'E_CHECKSUM') return checksumFailures < MAX_CHECKSUM_FAILURES;
  return !NEVER_RETRIED.has(err.code);
}

// What dCache and the GridFTP doors say when a tape-only file is asked for (no disk copy).
const NOT_ONLINE_RE =
  /\bNEARLINE\b|not online|is not on disk|file is unavailable|staging (is )?(disabled|not allowed)|bring.?online|Pinning failed/i;

/**
 * A transfer failure whose text says the file is on tape only becomes E_NOT_STAGED (LOFAR exit
 * 22), so it is not retried and the token can go back to staging. Anything else is returned as is.
 */
export function classifyNotStaged(err: unknown): unknown {
  if (!isLrtError(err, 'E_TRANSFER') || !NOT_ONLINE_RE.test(err.message)) return err;
  return new LrtError('E_NOT_STAGED', `${err.message} (the file is on tape only: stage it first)`, {
    cause: err,
    exitCode: 22,
    details: err.details,
  });
}

export interface RetryOptions {
  /** Retries after the first attempt (0 = one attempt only). */
  retries: number;
  backoff?: BackoffPolicy;
  rng?: Rng;
  sleep?: Sleep;
  signal?: AbortSignal;
  /** Called before each wait, with the failure that caused it. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** Maps an attempt's error before deciding (e.g. classifyNotStaged). */
  classify?: (err: unknown) => unknown;
}

export type RetryOutcome<T> =
  | { ok: true; value: T; attempts: number }
  | { ok: false; error: unknown; attempts: number };

/**
 * Runs `attempt(n)` (n from 1) until it succeeds, fails with an error that is not retryable, or
 * the retries are used up. Never throws for a failed attempt: the outcome says what happened.
 * A cancel (the signal fired) rejects with the signal's reason.
 */
export async function withRetries<T>(
  attempt: (n: number) => Promise<T>,
  options: RetryOptions,
): Promise<RetryOutcome<T>> {
  const policy = options.backoff ?? DEFAULT_BACKOFF;
  const rng = options.rng ?? Math.random;
  const sleep = options.sleep ?? realSleep;
  let checksumFailures = 0;
  for (let n = 1; ; n++) {
    options.signal?.throwIfAborted();
    try {
      return { ok: true, value: await attempt(n), attempts: n };
    } catch (raw) {
      if (options.signal?.aborted) throw options.signal.reason;
      const error = options.classify ? options.classify(raw) : raw;
      if (isLrtError(error, 'E_CHECKSUM')) checksumFailures += 1;
      if (n > options.retries || !isRetryable(error, checksumFailures)) {
        return { ok: false, error, attempts: n };
      }
      const delayMs = backoffDelay(n, policy, rng);
      options.onRetry?.({ attempt: n, delayMs, error });
      await sleep(delayMs, options.signal);
    }
  }
}
