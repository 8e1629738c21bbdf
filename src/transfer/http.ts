import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Adler32, adler32Tap } from './adler32';
import { MISSING_DESTINATION_DIR, safeUrl, transferFailure } from './failure';
import { download } from './httpDownload';
import { adler32FromDigest, headerValue } from './httpParts';
import { drain, type HttpResponse, send, statusFailure } from './httpRequest';
import { ensureParentDir, partPathFor, requireLocalFile } from './local';
import type { FetchResult, Mover, PutResult, StatResult, TransferOptions } from './types';

const MAX_PUT_REDIRECTS = 3;

function parentOf(url: string): string | undefined {
  const parsed = new URL(url);
  const path = parsed.pathname.replace(/\/+$/, '');
  const cut = path.lastIndexOf('/');
  if (cut <= 0) return undefined;
  parsed.pathname = `${path.slice(0, cut)}/`;
  parsed.search = '';
  return parsed.toString();
}

/** MKCOL the collection `dir` (a URL ending in `/`), its missing ancestors first (409 Conflict). */
async function makeCollection(dir: string, options: TransferOptions, depth = 0): Promise<void> {
  const response = await send(dir, options, { method: 'MKCOL', action: 'create directory' });
  const status = response.statusCode;
  if (status === 201 || status === 405) return drain(response); // 405: it exists already
  const parent = parentOf(dir);
  if (status === 409 && parent && depth < 64) {
    await drain(response);
    await makeCollection(parent, options, depth + 1);
    return makeCollection(dir, options, depth + 1);
  }
  throw await statusFailure(dir, response, options, 'create directory');
}

/** PUT with a fresh file stream per hop: undici cannot replay a stream body on a redirect. */
async function putOnce(src: string, url: string, size: number, sum: Adler32, options: TransferOptions) {
  const body = adler32Tap(sum, options.onProgress);
  pipeline(createReadStream(src), body).catch(() => undefined); // an error destroys `body` and fails the request
  return send(url, options, {
    method: 'PUT',
    action: 'upload to',
    headers: { 'content-length': String(size), 'content-type': 'application/octet-stream' },
    body,
    follow: false,
  });
}

function redirectTarget(response: HttpResponse, url: string): string | undefined {
  if (![301, 302, 307, 308].includes(response.statusCode)) return undefined;
  const location = headerValue(response.headers.location);
  return location ? new URL(location, url).toString() : undefined;
}

/** https://, http://, davs://, dav:// through undici: streamed, resumable, bearer-token auth. */
export const httpMover: Mover = {
  schemes: ['https', 'http', 'davs', 'dav'],

  async fetch(url: string, dest: string, options: TransferOptions = {}): Promise<FetchResult> {
    await ensureParentDir(dest);
    return download({ url, dest, part: partPathFor(dest), options, mayRestart: true });
  },

  async put(src: string, url: string, options: TransferOptions = {}): Promise<PutResult> {
    const size = await requireLocalFile(src);
    if (options.createDirs) {
      const parent = parentOf(url);
      if (parent) await makeCollection(parent, options);
    }
    let target = url;
    let hopOptions = options;
    for (let hop = 0; ; hop++) {
      const sum = new Adler32();
      const response = await putOnce(src, target, size, sum, hopOptions);
      const next = redirectTarget(response, target);
      if (next && hop < MAX_PUT_REDIRECTS) {
        await drain(response);
        // Like undici for GET: the token does not travel to another origin.
        if (new URL(next).origin !== new URL(target).origin)
          hopOptions = { ...hopOptions, bearerToken: undefined };
        target = next;
        continue;
      }
      const status = response.statusCode;
      if (status === 200 || status === 201 || status === 204) {
        await drain(response);
        return { url: safeUrl(url), bytes: sum.bytes, adler32: sum.hex() };
      }
      if (status === 404 || status === 409) {
        throw await statusFailure(url, response, options, 'upload to', MISSING_DESTINATION_DIR);
      }
      throw await statusFailure(url, response, options, 'upload to');
    }
  },

  async stat(url: string, options: TransferOptions = {}): Promise<StatResult> {
    const response = await send(url, options, { method: 'HEAD', action: 'stat' });
    if (response.statusCode !== 200) throw await statusFailure(url, response, options, 'stat');
    await drain(response);
    const length = headerValue(response.headers['content-length']);
    const modified = headerValue(response.headers['last-modified']);
    const etag = headerValue(response.headers.etag);
    return {
      url: safeUrl(url),
      size: length ? Number(length) : 0,
      isDirectory: false,
      ...(modified ? { modified } : {}),
      ...(etag ? { etag } : {}),
    };
  },

  /** The server's own adler32 (RFC 3230 Want-Digest, as dCache answers it). */
  async checksum(url: string, _algorithm, options: TransferOptions = {}): Promise<string> {
    const response = await send(url, options, {
      method: 'HEAD',
      action: 'checksum of',
      headers: { 'want-digest': 'adler32' },
    });
    if (response.statusCode !== 200) throw await statusFailure(url, response, options, 'checksum of');
    await drain(response);
    const sum = adler32FromDigest(headerValue(response.headers.digest));
    if (sum) return sum;
    throw transferFailure({
      code: 'E_TRANSFER',
      action: 'checksum of',
      url,
      reason: 'the server sent no adler32 Digest header',
    });
  },
};
