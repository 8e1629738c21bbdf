import { randomFillSync } from 'node:crypto';
import { closeSync, openSync, readSync, statfsSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Adler32 } from '../../src/transfer/adler32';
import { runOk } from './stageInProcs';

/** Source files for bench/stage-in: random bytes, written once, with their adler32. */

export interface SourceFile {
  name: string;
  path: string;
  bytes: number;
  adler32: string;
}

const CHUNK = 4 << 20;

/** Writes `bytes` random bytes to `path` and returns their adler32 (the token's checksum). */
export function writeRandomFile(path: string, bytes: number): string {
  const sum = new Adler32();
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, bytes));
  const fd = openSync(path, 'w');
  try {
    for (let left = bytes; left > 0; ) {
      const n = Math.min(buf.length, left);
      const chunk = buf.subarray(0, n);
      randomFillSync(chunk);
      sum.update(chunk);
      writeSync(fd, chunk);
      left -= n;
    }
  } finally {
    closeSync(fd);
  }
  return sum.hex();
}

export function makeSourceFiles(dir: string, count: number, bytes: number, prefix: string): SourceFile[] {
  return Array.from({ length: count }, (_, i) => {
    const name = `${prefix}_SB${String(i).padStart(3, '0')}_uv.MS.tar`;
    const path = join(dir, name);
    return { name, path, bytes, adler32: writeRandomFile(path, bytes) };
  });
}

/** Reads every file once so all contenders start from a warm page cache. */
export function warmPageCache(paths: readonly string[]): number {
  const buf = Buffer.allocUnsafe(CHUNK);
  let total = 0;
  for (const path of paths) {
    const fd = openSync(path, 'r');
    try {
      for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) total += n;
    } finally {
      closeSync(fd);
    }
  }
  return total;
}

/** Bytes free for an unprivileged writer on the filesystem of `path`. */
export function freeBytes(path: string): number {
  const s = statfsSync(path);
  return s.bavail * s.bsize;
}

/** Throws unless every file in `dir` named like a source has the source's size. */
export function checkCopies(dir: string, files: readonly SourceFile[], what: string): void {
  for (const f of files) {
    const size = statSync(join(dir, f.name), { throwIfNoEntry: false })?.size;
    if (size !== f.bytes)
      throw new Error(`${what}: ${f.name} has ${size ?? 'no'} bytes, expected ${f.bytes}`);
  }
}

/** Flushes dirty pages left by the last phase, so it does not slow down the next one. */
export async function flushDisk(): Promise<void> {
  await runOk('sync', []);
}
