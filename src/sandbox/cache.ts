import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Logger, silentLogger } from '../core';
import { breakLock, CacheLock, type LockTiming, staleLock } from './cacheLock';

/** The node cache of pilots started in `workDir` (their --workdir, else $TMPDIR, else the cwd). */
export const cacheDirIn = (workDir: string): string => join(workDir, '.lrt-cache');

/** Written last into a cache entry: its presence means the tree is complete. */
export const COMPLETE_MARKER = '.complete';
/** The sandbox tree inside a cache entry. */
export const TREE_DIR = 'sandbox';

export interface CacheMarker {
  key: string;
  /** The source, credentials redacted. */
  source: string;
  /** sha256 of the tarball, for tarball sources. */
  sha256?: string;
  /** The checked-out commit, for git sources. */
  commit?: string;
  /** Which version of the source was fetched (freshness.ts): a new version is a new entry. */
  version?: string;
  entries?: number;
  created: string;
}

export type BuiltInfo = Omit<CacheMarker, 'key' | 'source' | 'created'>;

export interface CacheOptions extends LockTiming {
  signal?: AbortSignal;
  /** First wait between looks at a busy lock; grows by half each time (default 100 ms). */
  pollMs?: number;
  maxPollMs?: number;
  logger?: Logger;
}

export interface CacheEntry {
  /** The cached sandbox tree: copy it, never run in it. */
  tree: string;
  marker: CacheMarker;
  /** False for the one caller that built the entry. */
  fromCache: boolean;
}

export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

async function readMarker(entryDir: string): Promise<CacheMarker | undefined> {
  try {
    return JSON.parse(await readFile(join(entryDir, COMPLETE_MARKER), 'utf8')) as CacheMarker;
  } catch {
    return undefined;
  }
}

async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw err;
  }
}

/** Leftovers of builders that died (only old ones: a live builder of this key holds the lock). */
async function removeOldWork(cacheDir: string, prefix: string, olderThanMs: number): Promise<void> {
  const names = await readdir(cacheDir).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.startsWith(prefix))) {
    const path = join(cacheDir, name);
    const info = await stat(path).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > olderThanMs) await rm(path, { recursive: true, force: true });
  }
}

/**
 * The cache entry `key` in `cacheDir`, built once per node: the first caller takes
 * `<key>.lock` (O_EXCL) and runs `build(treeDir)`, the others wait and reuse the result.
 * The entry is assembled in a temporary dir and renamed into place with its marker, so a
 * crash or an error leaves no half entry behind.
 */
export async function cachedEntry(
  cacheDir: string,
  key: string,
  source: string,
  build: (treeDir: string) => Promise<BuiltInfo>,
  options: CacheOptions = {},
): Promise<CacheEntry> {
  const { signal } = options;
  const logger = options.logger ?? silentLogger();
  const entryDir = join(cacheDir, key);
  const lockPath = join(cacheDir, `${key}.lock`);
  const tree = join(entryDir, TREE_DIR);
  const workPrefix = `.tmp-${key.slice(0, 16)}-`;
  await mkdir(cacheDir, { recursive: true });
  let delay = options.pollMs ?? 100;
  for (;;) {
    signal?.throwIfAborted();
    const done = await readMarker(entryDir);
    if (done) return { tree, marker: done, fromCache: true };

    const lock = await CacheLock.tryAcquire(lockPath, options);
    if (lock) {
      try {
        const again = await readMarker(entryDir);
        if (again) return { tree, marker: again, fromCache: true };
        await rm(entryDir, { recursive: true, force: true });
        await removeOldWork(cacheDir, workPrefix, options.staleMs ?? 10 * 60_000);
        const work = await mkdtemp(join(cacheDir, workPrefix));
        try {
          const built = await build(join(work, TREE_DIR));
          const marker: CacheMarker = { key, source, ...built, created: new Date().toISOString() };
          await writeFile(join(work, COMPLETE_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
          try {
            await rename(work, entryDir);
          } catch (err) {
            // Only after a lock was wrongly broken: another builder got there first.
            const theirs = await readMarker(entryDir);
            if (!theirs) throw err;
            await rm(work, { recursive: true, force: true });
            return { tree, marker: theirs, fromCache: true };
          }
          logger.info({ key, source }, 'sandbox cached');
          return { tree, marker, fromCache: false };
        } catch (err) {
          await rm(work, { recursive: true, force: true });
          throw err;
        }
      } finally {
        await lock.release();
      }
    }

    const stale = await staleLock(lockPath, options);
    if (stale) {
      logger.warn({ key, lock: lockPath, reason: stale.reason }, 'breaking stale sandbox cache lock');
      await breakLock(lockPath, stale);
      continue;
    }
    await pause(delay * (0.75 + Math.random() / 2), signal);
    delay = Math.min(delay * 1.5, options.maxPollMs ?? 2000);
  }
}
