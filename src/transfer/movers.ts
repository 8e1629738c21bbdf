import { LrtError } from '../core';
import { fileMover } from './file';
import { gsiftpMover } from './gsiftp';
import { httpMover } from './http';
import { srmMover } from './srm';
import type { ChecksumAlgorithm, FetchResult, Mover, PutResult, StatResult, TransferOptions } from './types';

export const MOVERS: readonly Mover[] = [gsiftpMover, srmMover, httpMover, fileMover];

/** The scheme of a URL in lower case; a plain absolute path counts as `file`. */
export function schemeOf(url: string): string | undefined {
  if (url.startsWith('/')) return 'file';
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
}

/** The mover for a URL's scheme: gsiftp, srm (via the site's GridFTP door), http(s)/dav(s), file. */
export function moverFor(url: string): Mover {
  const scheme = schemeOf(url);
  const mover = scheme === undefined ? undefined : MOVERS.find((m) => m.schemes.includes(scheme));
  if (!mover) {
    const known = MOVERS.flatMap((m) => m.schemes.map((s) => `${s}://`)).join(', ');
    throw new LrtError(
      'E_USAGE',
      `no mover for "${url.slice(0, 200)}": the URL scheme must be one of ${known}`,
    );
  }
  return mover;
}

export function fetchUrl(url: string, dest: string, options?: TransferOptions): Promise<FetchResult> {
  return moverFor(url).fetch(url, dest, options);
}

export function putUrl(src: string, url: string, options?: TransferOptions): Promise<PutResult> {
  return moverFor(url).put(src, url, options);
}

export function statUrl(url: string, options?: TransferOptions): Promise<StatResult> {
  return moverFor(url).stat(url, options);
}

/** The storage-side checksum of `url`; E_USAGE when that kind of storage cannot report one. */
export function checksumUrl(
  url: string,
  algorithm: ChecksumAlgorithm,
  options?: TransferOptions,
): Promise<string> {
  const mover = moverFor(url);
  if (!mover.checksum) {
    throw new LrtError('E_USAGE', `${schemeOf(url)}:// storage cannot report a checksum`);
  }
  return mover.checksum(url, algorithm, options);
}
