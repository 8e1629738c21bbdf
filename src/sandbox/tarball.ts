import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { isAbsolute, join, posix } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import * as tar from 'tar';
import { LrtError } from '../core';

/* Reproducible sandbox tarballs: the same inputs give the same bytes. */

/** Every entry gets this mtime (1980-01-01, the zip epoch): the same inputs give the same bytes. */
export const SANDBOX_MTIME = new Date(Date.UTC(1980, 0, 1));

/** Every path under `root`, sorted by code point, checked: plain files, folders and inside symlinks only. */
export async function sandboxEntries(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  const names = (await readdir(join(root, rel))).sort();
  for (const name of names) {
    const path = rel ? `${rel}/${name}` : name;
    const info = await lstat(join(root, path));
    if (info.isSymbolicLink()) {
      const target = await readlink(join(root, path));
      const resolved = posix.normalize(posix.join(posix.dirname(path), target));
      if (isAbsolute(target) || resolved === '..' || resolved.startsWith('../')) {
        throw new LrtError(
          'E_UNSAFE_ENTRY',
          `sandbox entry ${path} is a symlink to ${target}, outside the sandbox`,
        );
      }
      out.push(path);
    } else if (info.isDirectory()) {
      out.push(path, ...(await sandboxEntries(root, path)));
    } else if (info.isFile()) {
      out.push(path);
    } else {
      throw new LrtError('E_UNSAFE_ENTRY', `sandbox entry ${path} is not a file, folder or symlink`);
    }
  }
  return out.sort();
}

/** Owner-executable files become 0755, other files 0644, folders 0755: umask and owner do not leak in. */
function normaliseEntry(entry: { type?: string; stat?: { mode: number }; noMtime?: boolean }): void {
  // tar's portable mode drops the mtime of folders; GNU tar would then show 1970.
  if (entry.type === 'Directory') entry.noMtime = false;
  if (!entry.stat) return;
  const kind = entry.stat.mode & 0o170000;
  if (entry.type === 'Directory') entry.stat.mode = kind | 0o755;
  else if (entry.type === 'SymbolicLink') entry.stat.mode = kind | 0o777;
  else entry.stat.mode = kind | (entry.stat.mode & 0o100 ? 0o755 : 0o644);
}

/** Packs `entries` of `root` in that order into `dest` (.tar.gz); returns sha256 and size of the bytes. */
export async function writeReproducibleTarGz(
  root: string,
  entries: string[],
  dest: string,
): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  const pack = tar.create(
    { cwd: root, portable: true, noDirRecurse: true, mtime: SANDBOX_MTIME, onWriteEntry: normaliseEntry },
    entries,
  );
  // node's gzip header carries no mtime or file name: only the bytes decide the output.
  await pipeline(pack, createGzip({ level: 9 }), tap, createWriteStream(dest, { mode: 0o644 }));
  return { sha256: hash.digest('hex'), bytes };
}
