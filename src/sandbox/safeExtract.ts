import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { extract, Parser, type ReadEntry } from 'tar';
import { errorMessage, fileProblem, LrtError } from '../core';
import { EntryVetter, type TarEntryInfo, type UnsafeEntry } from './entryRules';
import type { ExtractLimits } from './sourceTypes';

export interface ExtractOptions extends ExtractLimits {
  signal?: AbortSignal;
  /** Names the archive in messages (e.g. the sandbox URL); default the file name. */
  label?: string;
}

export interface ArchiveSummary {
  entries: number;
  /** Sum of the file sizes. */
  bytes: number;
  /** Of the archive file as stored (compressed or not). */
  sha256: string;
  gzip: boolean;
}

const GZIP_MAGIC = [0x1f, 0x8b];

/** gzip or plain tar, from the first bytes: names like `sandbox.tar` often lie. */
export async function isGzipFile(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  } finally {
    await handle.close();
  }
}

/** Parser options: only gzip or nothing (tar would otherwise also guess zstd and brotli). */
const compression = (gzip: boolean) => (gzip ? { gzip: true } : { zstd: false, brotli: false });

function infoOf(entry: ReadEntry): TarEntryInfo {
  return { path: entry.path, type: entry.type, linkpath: entry.linkpath, size: entry.size, mode: entry.mode };
}

const sameEntry = (a: TarEntryInfo, b: TarEntryInfo): boolean =>
  a.path === b.path && a.type === b.type && (a.linkpath ?? '') === (b.linkpath ?? '') && a.size === b.size;

/** Owner keeps read/write (and search on dirs) so the cache can be copied and cleaned; no setuid. */
function safeMode(type: string, mode: number | undefined): number | undefined {
  if (mode === undefined) return undefined;
  return (mode & 0o777) | (type === 'Directory' ? 0o700 : 0o600);
}

interface Listing {
  sha256?: string;
  unsafe?: UnsafeEntry;
}

/** Reads every header (and hashes the file) without writing; stops at the first unsafe entry. */
function listArchive(
  file: string,
  gzip: boolean,
  onEntry: (info: TarEntryInfo) => UnsafeEntry | undefined,
  signal?: AbortSignal,
): Promise<Listing> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const input = createReadStream(file);
    const parser = new Parser({ strict: true, ...compression(gzip) });
    let settled = false;
    const settle = (done: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      done();
    };
    const fail = (err: unknown) =>
      settle(() => {
        input.destroy();
        reject(err);
      });
    const onAbort = () => fail(signal?.reason);
    const onEntryOf = (entry: ReadEntry) => {
      if (settled) return entry.resume();
      const unsafe = onEntry(infoOf(entry));
      if (unsafe) {
        return settle(() => {
          input.destroy();
          resolve({ unsafe });
        });
      }
      entry.resume();
    };
    if (signal?.aborted) return reject(signal.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    parser.on('entry', onEntryOf);
    // Unknown types and oversized metadata: tar skips them, we refuse them (vetter: unsupported type).
    parser.on('ignoredEntry', onEntryOf);
    parser.on('error', fail);
    parser.on('end', () => settle(() => resolve({ sha256: hash.digest('hex') })));
    input.on('error', fail);
    input.on('data', (chunk) => {
      hash.update(chunk);
      if (!parser.write(chunk as Buffer)) input.pause();
    });
    parser.on('drain', () => input.resume());
    input.on('end', () => parser.end());
  });
}

function archiveError(label: string, err: unknown): LrtError {
  if (err instanceof LrtError) return err;
  return new LrtError('E_SANDBOX', `sandbox archive ${label} is not a readable tar: ${errorMessage(err)}`, {
    cause: err,
  });
}

/**
 * Vets every entry of a .tar / .tar.gz from the headers alone (absolute paths, `..`, links out
 * of the tree, devices, tar bombs) and throws E_UNSAFE_ENTRY naming the first bad one; writes
 * nothing.
 */
export async function inspectArchive(
  archive: string,
  options: ExtractOptions = {},
): Promise<{ summary: ArchiveSummary; listed: TarEntryInfo[] }> {
  const label = options.label ?? basename(archive);
  const gzip = await isGzipFile(archive).catch((err) => {
    throw new LrtError('E_SANDBOX', `sandbox archive ${label} cannot be read: ${errorMessage(err)}`, {
      cause: err,
    });
  });
  const vetter = new EntryVetter(options);
  const listed: TarEntryInfo[] = [];
  let listing: Listing;
  try {
    listing = await listArchive(
      archive,
      gzip,
      (info) => {
        listed.push(info);
        return vetter.add(info);
      },
      options.signal,
    );
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw archiveError(label, err);
  }
  const unsafe = listing.unsafe ?? vetter.finish();
  if (unsafe) {
    throw new LrtError(
      'E_UNSAFE_ENTRY',
      `sandbox archive ${label}: unsafe entry '${unsafe.path}': ${unsafe.reason}`,
      {
        details: { archive: label, entry: unsafe.path, reason: unsafe.reason },
      },
    );
  }
  const summary = { entries: vetter.entries, bytes: vetter.bytes, sha256: listing.sha256 ?? '', gzip };
  return { summary, listed };
}

/**
 * Extracts a vetted archive into `dest` (absent or an empty directory): first into a temporary
 * sibling, then renamed into place, so a refused or broken archive leaves nothing behind.
 * File modes are kept (master.sh stays executable) minus setuid/setgid; owners are not.
 */
export async function safeExtract(
  archive: string,
  dest: string,
  options: ExtractOptions = {},
): Promise<ArchiveSummary> {
  const label = options.label ?? basename(archive);
  const { summary, listed } = await inspectArchive(archive, options);
  options.signal?.throwIfAborted();
  await mkdir(dirname(dest), { recursive: true });
  const tmp = await mkdtemp(join(dirname(dest), `.${basename(dest)}.extract-`));
  try {
    let index = 0;
    let changed: string | undefined;
    await extract({
      file: archive,
      cwd: tmp,
      strict: true,
      preserveOwner: false,
      ...compression(summary.gzip),
      // Second pass: extract exactly what was vetted, entry by entry.
      filter: (_path, entry) => {
        const read = entry as ReadEntry;
        const expected = listed[index++];
        if (!expected || !sameEntry(expected, infoOf(read))) {
          changed ??= read.path;
          return false;
        }
        read.mode = safeMode(read.type, read.mode);
        return true;
      },
    });
    if (changed !== undefined || index !== listed.length) {
      throw new LrtError('E_SANDBOX', `sandbox archive ${label} changed while it was being extracted`);
    }
    options.signal?.throwIfAborted();
    await rename(tmp, dest).catch((err: NodeJS.ErrnoException) => {
      throw new LrtError('E_SANDBOX', `cannot put the sandbox into ${dest}: ${fileProblem(err, 'write')}`, {
        cause: err,
      });
    });
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    if (options.signal?.aborted) throw options.signal.reason;
    throw archiveError(label, err);
  }
  return summary;
}
