import { LrtError } from '../core';
import { normalizeAdler32 } from './adler32';
import type { TransferOptions } from './types';

/** davs:// and dav:// are WebDAV over https/http. */
export function toHttpUrl(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  const scheme = m?.[1]?.toLowerCase();
  if (scheme === 'davs') return `https://${url.slice(m![0].length)}`;
  if (scheme === 'dav') return `http://${url.slice(m![0].length)}`;
  if (scheme === 'https' || scheme === 'http') return url;
  throw new LrtError('E_USAGE', `"${url}" is not an http(s)/dav(s) URL`);
}

export type ContentRange =
  | { kind: 'range'; start: number; end: number; total: number | undefined }
  | { kind: 'unsatisfied'; total: number };

/** `bytes 100-199/1000`, `bytes 100-199/*` or `bytes *\/1000`; undefined for anything else. */
export function parseContentRange(header: string | undefined): ContentRange | undefined {
  if (!header) return undefined;
  const range = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(header.trim());
  if (range) {
    const total = range[3] === '*' ? undefined : Number(range[3]);
    return { kind: 'range', start: Number(range[1]), end: Number(range[2]), total };
  }
  const unsatisfied = /^bytes\s+\*\/(\d+)$/i.exec(header.trim());
  return unsatisfied ? { kind: 'unsatisfied', total: Number(unsatisfied[1]) } : undefined;
}

/** The adler32 in an RFC 3230 `Digest` header (`adler32=0a1b2c3d,md5=...`), as dCache sends it. */
export function adler32FromDigest(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim().toLowerCase() === 'adler32') {
      return normalizeAdler32(part.slice(eq + 1));
    }
  }
  return undefined;
}

export function requestHeaders(options: TransferOptions, extra: Record<string, string> = {}) {
  const headers: Record<string, string> = { 'user-agent': 'grid-lrt', ...extra };
  if (options.bearerToken) headers.authorization = `Bearer ${options.bearerToken}`;
  return headers;
}

/** undici timeouts: a stall (no bytes for this long) aborts the request. */
export function requestTimeouts(options: TransferOptions): { bodyTimeout?: number; headersTimeout?: number } {
  if (options.stallTimeoutSeconds === undefined) return {};
  const ms = options.stallTimeoutSeconds * 1000;
  return { bodyTimeout: ms, headersTimeout: ms };
}

export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
