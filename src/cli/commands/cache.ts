import { join, resolve } from 'node:path';
import { countOf, LrtError } from '../../core';
import { cacheDirIn } from '../../sandbox/cache';
import {
  entriesToClean,
  entryParent,
  IMAGES_DIR,
  listCache,
  removeEntry,
  removeLeftovers,
  removeUnusedImages,
} from '../../sandbox/cacheAdmin';
import { DEFAULT_LOCK_STALE_MS } from '../../sandbox/cacheLock';
import { type CommandContext, defineCommand } from '../command';
import { EXIT } from '../exitCodes';
import { defineOptions } from '../options';

const CACHE_OPTIONS = defineOptions({
  cache: {
    type: 'string',
    value: 'DIR',
    description: "the node cache (default: the pilot's, $TMPDIR/.lrt-cache or ./.lrt-cache)",
  },
});

function cacheDirOf(ctx: CommandContext<typeof CACHE_OPTIONS>): string {
  const given = ctx.options.cache;
  return given ? resolve(ctx.cwd, given) : cacheDirIn(ctx.env.TMPDIR ?? ctx.cwd);
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

export const cacheList = defineCommand({
  path: ['cache', 'list'],
  summary: "list the sandboxes and container images in a node's cache: source, version, age, size",
  json: '{cache, entries: [{kind, key, source, version?, created, bytes, superseded, locked}]}',
  description:
    'The pilots of a node share a cache (README, "Sandbox cache"; docs/container-images.md). An\n' +
    'entry is one version of a sandbox or an image source: a tarball replaced at its URL gets a new\n' +
    'entry, and the old one is marked superseded (never used again; `lrt cache clean` removes it).',
  options: { ...CACHE_OPTIONS },
  async run(ctx) {
    const dir = cacheDirOf(ctx);
    const entries = await listCache(dir);
    ctx.out.result({ cache: dir, entries });
    for (const e of entries) {
      const flags = [e.superseded ? 'superseded' : '', e.locked ? 'in use' : ''].filter(Boolean).join(', ');
      ctx.out.line(
        `${e.kind.padEnd(7)}  ${e.key.slice(0, 12)}  ${e.created}  ${mb(e.bytes).padStart(9)}  ${e.source}${flags ? `  (${flags})` : ''}`,
      );
    }
    ctx.out.line(`${countOf(entries.length, 'entry', 'entries')} in ${dir}`);
    return EXIT.ok;
  },
});

export const cacheClean = defineCommand({
  path: ['cache', 'clean'],
  summary: 'remove superseded sandboxes and images (and with --all every one) from a node cache',
  json: '{cache, dryRun, removed: [{key, source, version?, bytes}], bytes, leftovers, images}',
  description:
    'Removes entries whose source was replaced at its URL, leftovers of pilots that died while\n' +
    'fetching, and with --older-than or --all more. An entry a pilot is building is never removed.\n' +
    'A pilot copying from an entry removed under it fails that token (run --all between jobs).',
  options: {
    ...CACHE_OPTIONS,
    all: { type: 'boolean', description: 'every entry, not only superseded ones' },
    'older-than': { type: 'string', value: 'DAYS', description: 'also entries made more than DAYS ago' },
    'dry-run': { type: 'boolean', description: 'show what would be removed, remove nothing' },
  },
  examples: ['lrt cache clean', 'lrt cache clean --older-than 7 --cache /scratch/lrt-cache'],
  async run(ctx) {
    const dir = cacheDirOf(ctx);
    const days = ctx.options['older-than'];
    const olderThanDays = days === undefined ? undefined : Number(days);
    if (olderThanDays !== undefined && !(Number.isFinite(olderThanDays) && olderThanDays >= 0)) {
      throw new LrtError(
        'E_USAGE',
        `--older-than must be a number of days >= 0, got ${JSON.stringify(days)}`,
      );
    }
    const doomed = entriesToClean(await listCache(dir), {
      all: ctx.options.all,
      ...(olderThanDays !== undefined ? { olderThanMs: olderThanDays * 86_400_000 } : {}),
    });
    const dryRun = ctx.options['dry-run'];
    const leftovers = dryRun
      ? []
      : [
          ...(await removeLeftovers(dir, DEFAULT_LOCK_STALE_MS)),
          ...(await removeLeftovers(join(dir, IMAGES_DIR), DEFAULT_LOCK_STALE_MS)).map(
            (n) => `${IMAGES_DIR}/${n}`,
          ),
        ];
    const progress = ctx.out.progress('removing cache entries', doomed.length);
    if (!dryRun) {
      for (const entry of doomed) {
        await removeEntry(entryParent(dir, entry), entry.key);
        progress.tick(1);
      }
    }
    progress.done();
    const images = dryRun ? [] : await removeUnusedImages(dir);
    const bytes = doomed.reduce((sum, e) => sum + e.bytes, 0);
    ctx.out.result({
      cache: dir,
      dryRun,
      removed: doomed.map((e) => ({ key: e.key, source: e.source, version: e.version, bytes: e.bytes })),
      bytes,
      leftovers,
      images,
    });
    for (const e of doomed)
      ctx.out.line(`${dryRun ? 'would remove' : 'removed'} ${e.key.slice(0, 12)}  ${e.source}`);
    ctx.out.line(
      `${dryRun ? 'would remove' : 'removed'} ${countOf(doomed.length, 'entry', 'entries')} (${mb(bytes)}) from ${dir}` +
        (leftovers.length ? `, and ${leftovers.length} leftovers of dead pilots` : '') +
        (images.length ? `; ${images.length} image files no entry uses` : ''),
    );
    return EXIT.ok;
  },
});

export const cacheCommands = [cacheList, cacheClean];
