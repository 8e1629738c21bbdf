import { createWriteStream } from 'node:fs';
import { copyFile, rename, rm, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Dispatcher, request } from 'undici';
import { type ErrorCode, errorMessage, LrtError, redactUrl, scrubSecrets } from '../core';
import type { SandboxMover } from './sourceTypes';

export interface FetchTarballOptions {
  signal?: AbortSignal;
  /** For gsiftp://, srm:// and any other non-HTTP URL (src/transfer). */
  mover?: SandboxMover;
  /** undici dispatcher, e.g. an Agent trusting the grid CAs. */
  dispatcher?: Dispatcher;
}

export type TarballLocation =
  | { kind: 'file'; path: string }
  | { kind: 'http'; url: string }
  | { kind: 'mover'; url: string; scheme: string };

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/** `text` (a library's or a tool's message about `url`) without the URL's password. */
export function scrubUrlSecrets(text: string, url: string): string {
  let password: string | undefined;
  try {
    password = decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    password = undefined;
  }
  return scrubSecrets(text, [password]);
}

const causeText = (err: unknown, url: string): string => scrubUrlSecrets(errorMessage(err), url);

/** Where a tarball URL points; a plain path is a local file (relative to `cwd`). */
export function tarballLocation(url: string, cwd: string = process.cwd()): TarballLocation {
  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: 'file', path: resolve(cwd, url) };
  if (scheme === 'file') {
    try {
      return { kind: 'file', path: fileURLToPath(url) };
    } catch (err) {
      throw new LrtError(
        'E_SANDBOX',
        `sandbox URL ${redactUrl(url)} is not a usable file:// URL: ${errorMessage(err)}`,
      );
    }
  }
  if (scheme === 'http' || scheme === 'https') return { kind: 'http', url };
  return { kind: 'mover', url, scheme };
}

/** The same tarball always gets the same spelling (cache keys): plain paths become file:// URLs. */
export function canonicalTarballUrl(url: string, cwd?: string): string {
  const location = tarballLocation(url, cwd);
  return location.kind === 'file' ? pathToFileURL(location.path).toString() : url;
}

/** The mover used when none is given: grid URLs need src/transfer. */
export const noMover: SandboxMover = async (url) => {
  const scheme = SCHEME.exec(url)?.[1] ?? 'this';
  throw new LrtError(
    'E_TRANSFER',
    `no mover for ${scheme}:// was given: cannot fetch sandbox ${redactUrl(url)}`,
  );
};

function httpStatusError(url: string, status: number): LrtError {
  const code: ErrorCode =
    status === 404 || status === 410
      ? 'E_NOT_FOUND'
      : status === 401 || status === 403
        ? 'E_TRANSFER_AUTH'
        : 'E_TRANSFER';
  return new LrtError(code, `sandbox download ${redactUrl(url)} failed: HTTP ${status}`, {
    details: { url: redactUrl(url), status },
  });
}

/** One request for a sandbox URL (redirects followed); a failure to connect is thrown as is. */
export function sandboxRequest(
  url: string,
  method: 'GET' | 'HEAD',
  options: { signal?: AbortSignal; dispatcher?: Dispatcher },
): Promise<Dispatcher.ResponseData> {
  return request(url, {
    method,
    signal: options.signal,
    dispatcher: options.dispatcher,
    maxRedirections: 5,
    headers: { 'user-agent': 'grid-lrt sandbox' },
  });
}

async function httpDownload(url: string, destFile: string, options: FetchTarballOptions): Promise<void> {
  const part = `${destFile}.part`;
  let response: Dispatcher.ResponseData;
  try {
    response = await sandboxRequest(url, 'GET', options);
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw new LrtError('E_TRANSFER', `sandbox download ${redactUrl(url)} failed: ${causeText(err, url)}`, {
      cause: err,
    });
  }
  if (response.statusCode !== 200) {
    await response.body.dump().catch(() => undefined);
    throw httpStatusError(url, response.statusCode);
  }
  try {
    await pipeline(response.body, createWriteStream(part));
    const expected = Number(response.headers['content-length']);
    const { size } = await stat(part);
    if (Number.isFinite(expected) && size !== expected) {
      throw new Error(`got ${size} of ${expected} bytes`);
    }
    await rename(part, destFile);
  } catch (err) {
    await rm(part, { force: true });
    if (options.signal?.aborted) throw options.signal.reason;
    throw new LrtError('E_TRANSFER', `sandbox download ${redactUrl(url)} broke off: ${causeText(err, url)}`, {
      cause: err,
    });
  }
}

async function copyLocal(path: string, destFile: string): Promise<void> {
  const part = `${destFile}.part`;
  try {
    await copyFile(path, part);
    await rename(part, destFile);
  } catch (err) {
    await rm(part, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new LrtError('E_NOT_FOUND', `sandbox file ${path} not found`, { cause: err });
    throw new LrtError('E_IO', `cannot copy sandbox file ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

/** Puts the tarball at `url` into the local file `destFile` (complete, or not at all). */
export async function fetchTarball(
  url: string,
  destFile: string,
  options: FetchTarballOptions = {},
): Promise<void> {
  options.signal?.throwIfAborted();
  const location = tarballLocation(url);
  if (location.kind === 'file') return copyLocal(location.path, destFile);
  if (location.kind === 'http') return httpDownload(location.url, destFile, options);
  const mover = options.mover ?? noMover;
  try {
    await mover(location.url, destFile, options.signal);
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (err instanceof LrtError) throw err;
    throw new LrtError('E_TRANSFER', `sandbox download ${redactUrl(url)} failed: ${causeText(err, url)}`, {
      cause: err,
    });
  }
  const present = await stat(destFile).then(
    (s) => s.isFile(),
    () => false,
  );
  if (!present)
    throw new LrtError(
      'E_TRANSFER',
      `the ${location.scheme} mover left no file for sandbox ${redactUrl(url)}`,
    );
}
