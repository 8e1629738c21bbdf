import type { Readable } from 'node:stream';
import { type Dispatcher, request } from 'undici';
import type { LrtError } from '../core';
import { httpFailureCode, transferFailure } from './failure';
import { requestHeaders, requestTimeouts, toHttpUrl } from './httpParts';
import type { TransferOptions } from './types';

export type HttpResponse = Dispatcher.ResponseData;

export interface SendOptions {
  method: 'GET' | 'HEAD' | 'PUT' | 'MKCOL';
  /** What is being done, for messages: `download`, `upload to`, ... */
  action: string;
  headers?: Record<string, string>;
  body?: Readable;
  /** Follow redirects inside undici (not for stream bodies, which cannot be replayed). */
  follow?: boolean;
}

/** Why a request or body failed: a stall timeout in words, else the error code and message. */
export function networkReason(err: unknown, options: TransferOptions): string {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') {
    return `no data for ${options.stallTimeoutSeconds} s (stall timeout)`;
  }
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.message ?? (err as Error).message ?? String(err);
  return code ? `${code}: ${detail}` : detail;
}

/** One HTTP request; a network failure becomes E_TRANSFER naming the URL, a cancel its reason. */
export async function send(url: string, options: TransferOptions, s: SendOptions): Promise<HttpResponse> {
  try {
    return await request(toHttpUrl(url), {
      // undici's type lists no WebDAV methods; it sends any method token as given.
      method: s.method as Dispatcher.HttpMethod,
      headers: requestHeaders(options, s.headers),
      ...(s.body ? { body: s.body } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
      maxRedirections: s.follow === false ? 0 : 5,
      ...requestTimeouts(options),
    });
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw transferFailure({
      code: 'E_TRANSFER',
      action: s.action,
      url,
      reason: networkReason(err, options),
      secrets: [options.bearerToken],
      cause: err,
    });
  }
}

/** Reads and discards a response body (keeps the connection reusable). */
export async function drain(response: HttpResponse): Promise<void> {
  await response.body.dump().catch(() => undefined);
}

/** The start of an error page, whitespace folded, for the message. */
export async function bodySnippet(response: HttpResponse, max = 300): Promise<string> {
  let text = '';
  try {
    for await (const chunk of response.body) {
      text += Buffer.from(chunk as Uint8Array).toString('utf8');
      if (text.length > max) break;
    }
  } catch {
    // the page is only decoration for the message
  }
  response.body.destroy();
  return text.replace(/\s+/g, ' ').trim().slice(0, max);
}

/** E_TRANSFER_AUTH for 401/403, E_NOT_FOUND for 404/410, E_TRANSFER otherwise. */
export async function statusFailure(
  url: string,
  response: HttpResponse,
  options: TransferOptions,
  action: string,
  reason?: string,
): Promise<LrtError> {
  const status = response.statusCode;
  const snippet = await bodySnippet(response);
  const why =
    reason ??
    (status === 401 || status === 403
      ? 'the token is missing, expired or without access'
      : status === 404 || status === 410
        ? 'no such file at the source'
        : 'unexpected reply');
  return transferFailure({
    code: reason ? 'E_TRANSFER' : httpFailureCode(status),
    action,
    url,
    reason: `HTTP ${status}: ${why}`,
    tool: 'the server',
    stderr: snippet,
    secrets: [options.bearerToken],
  });
}
