import { lstat, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LrtError } from '../core';
import { type ExtractLimits, safeExtract } from '../sandbox';

export interface ExtractContext {
  /** File names of every input of this stage-in: an archive may not replace one of them. */
  names: ReadonlySet<string>;
  signal: AbortSignal;
  limits?: ExtractLimits;
}

const ARCHIVE_RE = /\.(tar|tar\.gz|tgz)$/i;

/** Inputs that are unpacked when the token asks for extraction (as LOFAR's downloader did). */
export function isInputArchive(name: string): boolean {
  return ARCHIVE_RE.test(name);
}

const exists = (path: string) =>
  lstat(path).then(
    () => true,
    () => false,
  );

// Moves into the shared Input/ one archive at a time, so two archives cannot race for a name.
let moving: Promise<unknown> = Promise.resolve();

/**
 * Extracts the downloaded archive `tarball` (vetted by safeExtract: no absolute paths, no `..`,
 * no links out) next to it in `inputDir`, then removes it. An entry that would replace an input
 * or something already in `inputDir` is refused (E_UNSAFE_ENTRY) and nothing of it is kept.
 * Returns the top-level entries added.
 */
export async function extractInput(
  tarball: string,
  inputDir: string,
  name: string,
  ctx: ExtractContext,
): Promise<string[]> {
  const staging = join(inputDir, `.lrt-extract-${name}`);
  await rm(staging, { recursive: true, force: true });
  try {
    await safeExtract(tarball, staging, { ...ctx.limits, signal: ctx.signal, label: `input ${name}` });
    const entries = (await readdir(staging)).sort();
    const move = moving.then(async () => {
      for (const entry of entries) {
        if (ctx.names.has(entry) || (await exists(join(inputDir, entry)))) {
          throw new LrtError(
            'E_UNSAFE_ENTRY',
            `input archive ${name}: entry '${entry}' would replace Input/${entry}; nothing of the archive was kept`,
            { details: { archive: name, entry } },
          );
        }
      }
      for (const entry of entries) await rename(join(staging, entry), join(inputDir, entry));
    });
    moving = move.catch(() => undefined);
    await move;
    await rm(tarball, { force: true });
    return entries;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
