import { stat } from 'node:fs/promises';
import type { Dispatcher } from 'undici';
import { errorMessage, LrtError, redactUrl } from '../core';
import { sandboxRequest, scrubUrlSecrets, tarballLocation } from './sources';
import type { SandboxStat } from './sourceTypes';

/*
 * Which version of a sandbox tarball its URL serves now. GRID_LRT users overwrite the tarball at a
 * fixed SBXloc, so the node cache is keyed on the URL *and* this version: a replaced tarball gets a
 * new cache entry and the old one is never run again (README "Sandbox cache").
 * | scheme        | the version is                                                         |
 * |---------------|------------------------------------------------------------------------|
 * | file, a path  | size, mtime, ctime and inode (a copy over it changes ctime at least)   |
 * | http(s)       | the ETag, else Last-Modified and Content-Length (HEAD)                 |
 * | gsiftp, srm   | size and modification time (gfal-ls), and adler32 where the storage tells it |
 * No version (a server sending neither ETag nor Last-Modified or refusing HEAD, a grid URL without a stat):
 * the tarball is fetched for each token, never reused.
 */

export interface VersionOptions {
  signal?: AbortSignal;
  dispatcher?: Dispatcher;
  /** Size, modification time (and checksum) of a grid URL (src/transfer). */
  stat?: SandboxStat;
}

function unreachable(url: string, err: unknown): LrtError {
  return new LrtError(
    'E_TRANSFER',
    `cannot check whether sandbox ${redactUrl(url)} changed: ${scrubUrlSecrets(errorMessage(err), url)}`,
    { cause: err, details: { url: redactUrl(url) } },
  );
}

async function fileVersion(path: string): Promise<string> {
  try {
    const info = await stat(path, { bigint: true });
    return `size=${info.size};mtime=${info.mtimeNs};ctime=${info.ctimeNs};ino=${info.ino}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new LrtError('E_NOT_FOUND', `sandbox file ${path} not found`, { cause: err });
    throw new LrtError('E_IO', `cannot stat sandbox file ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

const header = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

async function httpVersion(url: string, options: VersionOptions): Promise<string | undefined> {
  let response: Dispatcher.ResponseData;
  try {
    response = await sandboxRequest(url, 'HEAD', options);
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw unreachable(url, err);
  }
  await response.body.dump().catch(() => undefined);
  // No version from a failed HEAD (a 404, a server that does not answer HEAD): the GET reports it.
  if (response.statusCode !== 200) return undefined;
  const etag = header(response.headers.etag);
  const length = header(response.headers['content-length']);
  if (etag) return `etag=${etag};size=${length ?? '?'}`;
  const modified = header(response.headers['last-modified']);
  if (modified) return `modified=${modified};size=${length ?? '?'}`;
  return undefined;
}

/**
 * The version the tarball at `url` has now, or undefined when it cannot be told (fetch it fresh).
 * Throws when the source is missing or unreachable, naming the sandbox.
 */
export async function tarballVersion(url: string, options: VersionOptions = {}): Promise<string | undefined> {
  options.signal?.throwIfAborted();
  const location = tarballLocation(url);
  if (location.kind === 'file') return fileVersion(location.path);
  if (location.kind === 'http') return httpVersion(location.url, options);
  if (!options.stat) return undefined;
  try {
    const info = await options.stat(location.url, options.signal);
    if (info.modified === undefined && info.adler32 === undefined) return undefined;
    return `size=${info.size};modified=${info.modified ?? '?'};adler32=${info.adler32 ?? '?'}`;
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason;
    // No gfal on the node: the version cannot be told, the tarball is fetched fresh.
    if (err instanceof LrtError && err.code === 'E_TOOL_MISSING') return undefined;
    if (err instanceof LrtError && err.code === 'E_NOT_FOUND') throw err;
    throw unreachable(url, err);
  }
}
