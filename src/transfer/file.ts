import { createReadStream } from 'node:fs';
import { stat as fsStat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LrtError } from '../core';
import { Adler32, adler32File } from './adler32';
import { MISSING_DESTINATION_DIR, transferFailure } from './failure';
import {
  ensureParentDir,
  finishPart,
  partPathFor,
  removeQuietly,
  requireLocalFile,
  verifyAdler32,
} from './local';
import { streamToFile } from './sink';
import type { FetchResult, Mover, PutResult, StatResult, TransferOptions } from './types';

/** `file:///a/b` (or a plain absolute path) as a local path. */
export function localPathOf(url: string): string {
  if (url.startsWith('/')) return url;
  try {
    return fileURLToPath(url);
  } catch (err) {
    throw new LrtError('E_USAGE', `"${url}" is not a local file:// URL: ${(err as Error).message}`);
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return fsStat(path).then(
    (info) => info.isDirectory(),
    () => false,
  );
}

/**
 * Copies `from` to `to` through `to.part` and an atomic rename; the adler32 is computed on the
 * way. A failed copy leaves nothing behind.
 */
async function copyLocal(from: string, to: string, url: string, options: TransferOptions) {
  await requireLocalFile(from);
  const part = partPathFor(to);
  const sum = new Adler32();
  try {
    await streamToFile(createReadStream(from), part, sum, options);
  } catch (err) {
    await removeQuietly(part);
    if (options.signal?.aborted) throw options.signal.reason;
    throw transferFailure({
      code: 'E_TRANSFER',
      action: 'copy',
      url,
      reason: (err as Error).message,
      cause: err,
    });
  }
  const adler32 = sum.hex();
  await verifyAdler32(url, adler32, options.expectedAdler32, part);
  await finishPart(part, to).catch(async (err: unknown) => {
    await removeQuietly(part);
    throw err;
  });
  return { bytes: sum.bytes, adler32 };
}

/** file:// and plain paths: stream copies, for local or shared-file-system storage. */
export const fileMover: Mover = {
  schemes: ['file'],

  async fetch(url: string, dest: string, options: TransferOptions = {}): Promise<FetchResult> {
    const from = localPathOf(url);
    await ensureParentDir(dest);
    const { bytes, adler32 } = await copyLocal(from, dest, url, options);
    return { url, dest, bytes, adler32 };
  },

  async put(src: string, url: string, options: TransferOptions = {}): Promise<PutResult> {
    const to = localPathOf(url);
    if (await isDirectory(to)) {
      await requireLocalFile(src);
      throw transferFailure({
        code: 'E_TRANSFER',
        action: 'upload to',
        url,
        reason: 'the destination is a folder, not a file name (a folder URL ends in /)',
      });
    }
    if (options.createDirs) await ensureParentDir(to);
    else if (!(await isDirectory(dirname(to)))) {
      await requireLocalFile(src);
      throw transferFailure({
        code: 'E_TRANSFER',
        action: 'upload to',
        url,
        reason: `${MISSING_DESTINATION_DIR}: ${dirname(to)}`,
      });
    }
    const { bytes, adler32 } = await copyLocal(src, to, url, options);
    return { url, bytes, adler32 };
  },

  async stat(url: string): Promise<StatResult> {
    const path = localPathOf(url);
    try {
      const info = await fsStat(path);
      return { url, size: info.size, isDirectory: info.isDirectory(), modified: info.mtime.toISOString() };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw transferFailure({
        code: code === 'ENOENT' || code === 'ENOTDIR' ? 'E_NOT_FOUND' : 'E_IO',
        action: 'stat',
        url,
        reason: code === 'ENOENT' ? 'no such file' : (err as Error).message,
        cause: err,
      });
    }
  },

  async checksum(url: string, _algorithm, options: TransferOptions = {}): Promise<string> {
    const path = localPathOf(url);
    await requireLocalFile(path);
    return adler32File(path, options.signal);
  },
};
