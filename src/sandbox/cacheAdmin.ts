import { lstat, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type CacheMarker, COMPLETE_MARKER } from './cache';
import { breakLock, staleLock } from './cacheLock';

/*
 * Looking after a node cache (`lrt cache list|clean`): entries `<key>/` with their `.complete`
 * marker, locks `<key>.lock` of builders at work, `.tmp-*` dirs of builders (or of cleaners).
 * Container images (src/pilot/containerStep.ts) keep the same kind of entries in `images/`, each
 * naming the content-addressed file `images/sha256/<sha256>.sif` it gave.
 */

export const IMAGES_DIR = 'images';
const BLOBS_DIR = 'sha256';

export interface CacheListing {
  kind: 'sandbox' | 'image';
  key: string;
  source: string;
  version?: string;
  created: string;
  bytes: number;
  /** A newer entry of the same source exists: this version was replaced at its URL. */
  superseded: boolean;
  /** A builder holds the entry's lock right now. */
  locked: boolean;
}

async function treeBytes(path: string): Promise<number> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const name of await readdir(path).catch(() => [] as string[]))
    total += await treeBytes(join(path, name));
  return total;
}

async function markerOf(dir: string): Promise<CacheMarker | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, COMPLETE_MARKER), 'utf8')) as CacheMarker;
  } catch {
    return undefined;
  }
}

/** Every complete entry of one level of the cache, oldest first; an absent cache is empty. */
async function listEntries(cacheDir: string, kind: CacheListing['kind']): Promise<CacheListing[]> {
  const names = await readdir(cacheDir).catch(() => [] as string[]);
  const locks = new Set(names.filter((n) => n.endsWith('.lock')).map((n) => n.slice(0, -'.lock'.length)));
  const entries: CacheListing[] = [];
  for (const name of names) {
    if (name.startsWith('.') || name.endsWith('.lock')) continue;
    const marker = await markerOf(join(cacheDir, name));
    if (!marker) continue;
    const blob = kind === 'image' && marker.sha256 ? join(cacheDir, BLOBS_DIR, `${marker.sha256}.sif`) : '';
    entries.push({
      kind,
      key: name,
      source: marker.source,
      ...(marker.version ? { version: marker.version } : {}),
      created: marker.created,
      bytes: await treeBytes(blob || join(cacheDir, name)),
      superseded: false,
      locked: locks.has(name),
    });
  }
  entries.sort((a, b) => a.created.localeCompare(b.created));
  const newest = new Map<string, string>();
  for (const entry of entries) newest.set(entry.source, entry.key);
  for (const entry of entries) entry.superseded = newest.get(entry.source) !== entry.key;
  return entries;
}

/** The sandboxes, then the container images, of a node cache. */
export async function listCache(cacheDir: string): Promise<CacheListing[]> {
  return [
    ...(await listEntries(cacheDir, 'sandbox')),
    ...(await listEntries(join(cacheDir, IMAGES_DIR), 'image')),
  ];
}

/** The directory an entry lives in. */
export const entryParent = (cacheDir: string, entry: CacheListing) =>
  entry.kind === 'image' ? join(cacheDir, IMAGES_DIR) : cacheDir;

/**
 * Image files no entry names any more (their sources were cleaned): removed, unless a pilot is
 * downloading an image right now (its file may be in place a moment before its entry).
 */
export async function removeUnusedImages(cacheDir: string): Promise<string[]> {
  const imagesDir = join(cacheDir, IMAGES_DIR);
  const names = await readdir(imagesDir).catch(() => [] as string[]);
  if (names.some((n) => n.endsWith('.lock'))) return [];
  const used = new Set<string>();
  for (const name of names) {
    const marker = await markerOf(join(imagesDir, name));
    if (marker?.sha256) used.add(`${marker.sha256}.sif`);
  }
  const removed: string[] = [];
  for (const blob of await readdir(join(imagesDir, BLOBS_DIR)).catch(() => [] as string[])) {
    if (used.has(blob)) continue;
    await rm(join(imagesDir, BLOBS_DIR, blob), { force: true });
    removed.push(`${IMAGES_DIR}/${BLOBS_DIR}/${blob}`);
  }
  return removed;
}

export interface CleanRule {
  /** Every entry, not only superseded ones. */
  all?: boolean;
  /** Also entries created more than this many ms ago. */
  olderThanMs?: number;
  now?: number;
}

/** The entries `rule` removes: superseded ones, plus all or old ones; never one being built. Pure. */
export function entriesToClean(entries: readonly CacheListing[], rule: CleanRule): CacheListing[] {
  const now = rule.now ?? Date.now();
  return entries.filter((e) => {
    if (e.locked) return false;
    if (rule.all || e.superseded) return true;
    return rule.olderThanMs !== undefined && now - Date.parse(e.created) > rule.olderThanMs;
  });
}

/**
 * Removes one entry: renamed away first (a pilot that looks next sees no entry and builds a new
 * one), then deleted. A pilot copying from it at that moment fails that one token's copy; clean
 * superseded entries, which no pilot picks any more.
 */
export async function removeEntry(cacheDir: string, key: string): Promise<void> {
  const trash = join(cacheDir, `.tmp-clean-${key.slice(0, 16)}-${process.pid}`);
  try {
    await rename(join(cacheDir, key), trash);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  await rm(trash, { recursive: true, force: true });
}

/** Leftovers of builders that died: `.tmp-*` dirs older than `staleMs`, and stale locks. */
export async function removeLeftovers(
  cacheDir: string,
  staleMs: number,
  now = Date.now(),
): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(cacheDir).catch(() => [] as string[])) {
    const path = join(cacheDir, name);
    if (name.startsWith('.tmp-')) {
      const info = await lstat(path).catch(() => undefined);
      if (info && now - info.mtimeMs > staleMs) {
        await rm(path, { recursive: true, force: true });
        removed.push(name);
      }
    } else if (name.endsWith('.lock')) {
      const stale = await staleLock(path, { staleMs });
      if (stale) {
        await breakLock(path, stale);
        removed.push(name);
      }
    }
  }
  return removed;
}
