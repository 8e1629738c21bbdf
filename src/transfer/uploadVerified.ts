import type { BackoffPolicy, Rng } from '../core';
import { errorMessage, isLrtError, LrtError } from '../core';
import { adler32File } from './adler32';
import { safeUrl } from './failure';
import { checksumUrl, putUrl, statUrl } from './movers';
import { type Sleep, withRetries } from './retry';
import type { TransferOptions } from './types';

/** LOFAR's exit codes for stage-out: nothing to upload, upload failed, destination exists. */
export const EXIT_NO_OUTPUT = 30;
export const EXIT_UPLOAD_FAILED = 31;
export const EXIT_DESTINATION_EXISTS = 33;
export const DEFAULT_UPLOAD_RETRIES = 2;

export interface UploadContext {
  options: TransferOptions;
  retries: number;
  backoff?: BackoffPolicy;
  rng?: Rng;
  sleep?: Sleep;
  warn: (message: string) => void;
}

export interface VerifiedUpload {
  /** The destination, credentials redacted. */
  location: string;
  bytes: number;
  /** adler32 of the bytes sent. */
  adler32: string;
  /** The destination reported the same size (false when it could not be asked). */
  sizeVerified: boolean;
  /** The destination reported the same adler32 (false when that storage cannot tell). */
  checksumVerified: boolean;
}

const attemptsText = (n: number) => `${n} attempt${n === 1 ? '' : 's'}`;

function uploadFailure(url: string, message: string, cause: unknown, code?: LrtError['code']): LrtError {
  return new LrtError(code ?? (isLrtError(cause) ? cause.code : 'E_TRANSFER'), message, {
    cause,
    exitCode: EXIT_UPLOAD_FAILED,
    details: { url: safeUrl(url), ...(isLrtError(cause) ? cause.details : {}) },
  });
}

function retryOptions(ctx: UploadContext) {
  return {
    retries: ctx.retries,
    ...(ctx.options.signal ? { signal: ctx.options.signal } : {}),
    ...(ctx.backoff ? { backoff: ctx.backoff } : {}),
    ...(ctx.rng ? { rng: ctx.rng } : {}),
    ...(ctx.sleep ? { sleep: ctx.sleep } : {}),
  };
}

/**
 * Refuses (E_EXISTS, LOFAR exit 33) when `url` exists and `overwrite` is off; a missing
 * destination is what we want. A destination that cannot be asked at all fails with exit 31.
 */
export async function checkDestinationFree(
  url: string,
  overwrite: boolean,
  ctx: UploadContext,
): Promise<void> {
  const outcome = await withRetries(() => statUrl(url, ctx.options), retryOptions(ctx));
  if (outcome.ok) {
    if (overwrite) {
      ctx.warn(`${safeUrl(url)} exists (${outcome.value.size} bytes) and is overwritten`);
      return;
    }
    throw new LrtError(
      'E_EXISTS',
      `upload destination ${safeUrl(url)} exists already (${outcome.value.size} bytes) and overwrite is off`,
      { exitCode: EXIT_DESTINATION_EXISTS, details: { url: safeUrl(url), size: outcome.value.size } },
    );
  }
  if (isLrtError(outcome.error, 'E_NOT_FOUND')) return;
  throw uploadFailure(
    url,
    `cannot check upload destination ${safeUrl(url)} after ${attemptsText(outcome.attempts)}: ${errorMessage(outcome.error)}`,
    outcome.error,
  );
}

/**
 * Uploads the local file `src` to `url` (parent directories created, retried), then checks the
 * size and, where the storage can tell, the adler32 at the destination. Any failure: exit 31.
 */
export async function uploadVerified(src: string, url: string, ctx: UploadContext): Promise<VerifiedUpload> {
  const options = { ...ctx.options, createDirs: true };
  const put = await withRetries(() => putUrl(src, url, options), retryOptions(ctx));
  if (!put.ok) {
    throw uploadFailure(
      url,
      `upload of ${src} to ${safeUrl(url)} failed after ${attemptsText(put.attempts)}: ${errorMessage(put.error)}`,
      put.error,
    );
  }
  const bytes = put.value.bytes;
  const adler32 = put.value.adler32 ?? (await adler32File(src, ctx.options.signal));

  let sizeVerified = false;
  const stat = await withRetries(() => statUrl(url, ctx.options), retryOptions(ctx));
  if (stat.ok) {
    if (stat.value.size !== bytes) {
      throw uploadFailure(
        url,
        `upload to ${safeUrl(url)}: the destination holds ${stat.value.size} bytes, ${bytes} were sent`,
        undefined,
        'E_TRANSFER',
      );
    }
    sizeVerified = true;
  } else if (isLrtError(stat.error, 'E_TOOL_MISSING')) {
    ctx.warn(`size of ${safeUrl(url)} not verified: ${errorMessage(stat.error)}`);
  } else {
    throw uploadFailure(
      url,
      `upload to ${safeUrl(url)}: cannot check the size there: ${errorMessage(stat.error)}`,
      stat.error,
    );
  }

  let checksumVerified = false;
  try {
    const stored = await checksumUrl(url, 'adler32', ctx.options);
    if (stored !== adler32) {
      throw uploadFailure(
        url,
        `upload to ${safeUrl(url)}: the destination reports adler32 ${stored}, the bytes sent have ${adler32}`,
        undefined,
        'E_CHECKSUM',
      );
    }
    checksumVerified = true;
  } catch (err) {
    if (isLrtError(err, 'E_CHECKSUM')) throw err;
    if (ctx.options.signal?.aborted) throw ctx.options.signal.reason;
    ctx.warn(`adler32 of ${safeUrl(url)} not verified (the storage cannot tell): ${errorMessage(err)}`);
  }
  return { location: safeUrl(url), bytes, adler32, sizeVerified, checksumVerified };
}
