import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import type { PicasDb } from './client';

/** An error shaped like nano's (statusCode, reason), so callers keep using statusOf/couchError. */
function httpError(status: number, reason: string): Error {
  return Object.assign(new Error(reason), { statusCode: status, reason });
}

async function readBody(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * GET one attachment of a token as a byte stream (bytes verbatim, no text decoding).
 * nano's `attachment.getAsStream` pipes the response body without passing its errors on: a
 * connection reset in the middle of the body then crashes the process with an unhandled 'error'
 * (or leaves the reader waiting). Here every error reaches whoever consumes the stream, and
 * node:http's own backpressure keeps memory flat (a web stream turned into a node stream did not).
 * Rejects with a nano-shaped error: `statusCode` on an HTTP error, none when unreachable.
 */
export function openAttachmentStream(
  picas: PicasDb,
  tokenId: string,
  name: string,
  signal?: AbortSignal,
): Promise<Readable> {
  const base = new URL(picas.settings.url);
  const user = picas.settings.user ?? (base.username ? decodeURIComponent(base.username) : undefined);
  const password = picas.settings.password ?? (base.password ? decodeURIComponent(base.password) : undefined);
  base.username = '';
  base.password = '';
  const url = new URL(
    `${base.toString().replace(/\/+$/, '')}/${encodeURIComponent(picas.name)}/${encodeURIComponent(tokenId)}/${encodeURIComponent(name)}`,
  );
  const headers: Record<string, string> = {};
  if (user !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${user}:${password ?? ''}`).toString('base64')}`;
  }
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<Readable>((resolve, reject) => {
    const req = request(url, { method: 'GET', headers, ...(signal ? { signal } : {}) }, (response) => {
      const status = response.statusCode ?? 0;
      if (status >= 200 && status < 300) {
        resolve(response);
        return;
      }
      readBody(response).then(
        (text) => {
          let reason = response.statusMessage ?? `HTTP ${status}`;
          try {
            const body = JSON.parse(text) as { reason?: unknown; error?: unknown };
            reason = String(body.reason ?? body.error ?? reason);
          } catch {
            // No JSON body: the status says enough.
          }
          reject(httpError(status, reason));
        },
        () => reject(httpError(status, response.statusMessage ?? `HTTP ${status}`)),
      );
    });
    // Before the response: unreachable (no statusCode). After it, errors surface on the stream.
    req.once('error', reject);
    req.end();
  });
}
