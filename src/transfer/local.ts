import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LrtError } from '../core';
import { normalizeAdler32 } from './adler32';
import { safeUrl } from './failure';

/** Downloads land here first and are renamed to `dest` only when complete. */
export function partPathFor(dest: string): string {
  return `${dest}.part`;
}

export async function ensureParentDir(path: string): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
  } catch (err) {
    throw new LrtError('E_IO', `cannot create the directory for ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Size of a local file, or undefined when there is none. */
export async function localSize(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The size of a local upload source; E_NOT_FOUND names it when it is not there. */
export async function requireLocalFile(path: string): Promise<number> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new LrtError('E_NOT_FOUND', `local file ${path} does not exist`, { cause: err });
    }
    throw new LrtError('E_IO', `cannot read local file ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (!info.isFile()) throw new LrtError('E_IO', `local path ${path} is not a regular file`);
  return info.size;
}

export async function removeQuietly(path: string): Promise<void> {
  await rm(path, { force: true }).catch(() => undefined);
}

/** Moves a finished `.part` into place; a rename within one directory is atomic. */
export async function finishPart(part: string, dest: string): Promise<void> {
  try {
    await rename(part, dest);
  } catch (err) {
    throw new LrtError('E_IO', `cannot move ${part} to ${dest}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Throws E_CHECKSUM (after removing the bad file) when `actual` differs from the expected
 * adler32; an expected value that is not an adler32 at all is a usage error.
 */
export async function verifyAdler32(
  url: string,
  actual: string,
  expected: string | undefined,
  badFile: string,
): Promise<void> {
  if (expected === undefined) return;
  const want = normalizeAdler32(expected);
  if (!want)
    throw new LrtError('E_USAGE', `expected checksum "${expected}" is not an adler32 (8 hex digits)`);
  if (want === actual) return;
  await removeQuietly(badFile);
  throw new LrtError(
    'E_CHECKSUM',
    `download ${safeUrl(url)} failed: adler32 ${actual} differs from the expected ${want}`,
    { details: { url: safeUrl(url), adler32: actual, expected: want } },
  );
}
