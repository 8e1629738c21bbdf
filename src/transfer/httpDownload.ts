import { Adler32, updateFromFile } from './adler32';
import { safeUrl, transferFailure } from './failure';
import { headerValue, parseContentRange } from './httpParts';
import { drain, type HttpResponse, networkReason, send, statusFailure } from './httpRequest';
import { finishPart, localSize, removeQuietly, verifyAdler32 } from './local';
import { streamToFile } from './sink';
import type { FetchResult, TransferOptions } from './types';

interface Attempt {
  url: string;
  dest: string;
  part: string;
  options: TransferOptions;
  /** One fresh start is allowed when the server will not continue the partial file. */
  mayRestart: boolean;
}

function contentLength(response: HttpResponse): number | undefined {
  const value = headerValue(response.headers['content-length']);
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

async function startOver(a: Attempt, response: HttpResponse, why: string): Promise<FetchResult> {
  await drain(response);
  await removeQuietly(a.part);
  if (a.mayRestart) return download({ ...a, mayRestart: false });
  throw transferFailure({ code: 'E_TRANSFER', action: 'download', url: a.url, reason: why });
}

async function complete(a: Attempt, sum: Adler32, resumedFrom: number): Promise<FetchResult> {
  const adler32 = sum.hex();
  await verifyAdler32(a.url, adler32, a.options.expectedAdler32, a.part);
  await finishPart(a.part, a.dest);
  return {
    url: safeUrl(a.url),
    dest: a.dest,
    bytes: sum.bytes,
    adler32,
    ...(resumedFrom > 0 ? { resumedFrom } : {}),
  };
}

/**
 * GET into `part`, continuing a partial file from an earlier attempt with a Range request.
 * An interrupted body leaves `part` in place for the next attempt; the adler32 covers the
 * bytes already there plus the new ones.
 */
export async function download(a: Attempt): Promise<FetchResult> {
  const { options } = a;
  const have = (await localSize(a.part)) ?? 0;
  const response = await send(a.url, options, {
    method: 'GET',
    action: 'download',
    headers: have > 0 ? { range: `bytes=${have}-` } : {},
  });
  const range = parseContentRange(headerValue(response.headers['content-range']));
  const status = response.statusCode;

  if (status === 416 && have > 0) {
    if (range?.kind === 'unsatisfied' && range.total === have) {
      await drain(response); // the earlier attempt had every byte but stopped before the rename
      return complete(a, await updateFromFile(new Adler32(), a.part, { signal: options.signal }), have);
    }
    return startOver(a, response, `the server refused to continue at byte ${have} (HTTP 416)`);
  }
  if (status !== 200 && status !== 206) throw await statusFailure(a.url, response, options, 'download');
  if (status === 206 && (have === 0 || range?.kind !== 'range' || range.start !== have)) {
    return startOver(
      a,
      response,
      `the server sent bytes from ${range?.kind === 'range' ? range.start : '?'}, not ${have}`,
    );
  }

  // 200 after a Range request: the server ignored it, so the whole file comes again.
  const offset = status === 206 ? have : 0;
  const sum = new Adler32();
  if (offset > 0) await updateFromFile(sum, a.part, { end: offset, signal: options.signal });
  const length = contentLength(response);
  const total = length !== undefined ? offset + length : range?.kind === 'range' ? range.total : undefined;
  try {
    await streamToFile(response.body, a.part, sum, {
      append: offset > 0,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason;
    const got = (await localSize(a.part)) ?? 0;
    throw transferFailure({
      code: 'E_TRANSFER',
      action: 'download',
      url: a.url,
      reason: `interrupted after ${got} of ${total ?? 'unknown'} bytes (${networkReason(err, options)}); the partial file is kept for a resume`,
      secrets: [options.bearerToken],
      cause: err,
    });
  }
  if (total !== undefined && sum.bytes !== total) {
    throw transferFailure({
      code: 'E_TRANSFER',
      action: 'download',
      url: a.url,
      reason: `incomplete: ${sum.bytes} of ${total} bytes; the partial file is kept for a resume`,
    });
  }
  return complete(a, sum, offset);
}
