import { chmod, cp, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Dispatcher } from 'undici';
import { type Logger, LrtError, redactUrl, silentLogger } from '../core';
import { type BuiltInfo, type CacheOptions, cachedEntry, sha256Hex } from './cache';
import { tarballVersion } from './freshness';
import { cloneGitSandbox, gitSandboxVersion } from './gitSource';
import { safeExtract } from './safeExtract';
import { canonicalTarballUrl, fetchTarball } from './sources';
import type { ExtractLimits, SandboxMover, SandboxSource, SandboxStat } from './sourceTypes';

export interface PrepareSandboxOptions {
  source: SandboxSource;
  /** The node cache shared by the pilots on this node; without one, a private one-off cache is used. */
  cacheDir?: string;
  /** Receives the sandbox tree (created when missing; may already hold other files). */
  jobDir: string;
  signal?: AbortSignal;
  /** Fetches gsiftp:// / srm:// tarballs (src/transfer). */
  mover?: SandboxMover;
  /** Size and modification time of gsiftp:// / srm:// tarballs: without it they are never reused. */
  stat?: SandboxStat;
  logger?: Logger;
  limits?: ExtractLimits;
  dispatcher?: Dispatcher;
  /** The git program (default `git`). */
  git?: string;
  /** Lock timing of the cache (stale after, poll intervals). */
  lock?: Omit<CacheOptions, 'signal' | 'logger'>;
}

export interface PreparedSandbox {
  /** Where master.sh is: the job dir. */
  dir: string;
  /** True when another pilot (or an earlier token) had already fetched this version of the sandbox. */
  fromCache: boolean;
  /** The version of a tarball source that was used (freshness.ts); absent: fetched fresh. */
  version?: string;
  key: string;
  /** sha256 of the tarball (tarball sources). */
  sha256?: string;
  /** The checked-out commit (git sources). */
  commit?: string;
}

/** The source for messages and logs, credentials redacted. */
export function describeSandbox(source: SandboxSource): string {
  if (source.kind === 'tarball') return redactUrl(source.url);
  const ref = source.commit ? ` commit ${source.commit}` : source.branch ? ` branch ${source.branch}` : '';
  return `git ${redactUrl(source.url)}${ref}`;
}

/**
 * The cache key: sha256 of the tarball URL and the version it serves now (freshness.ts), or of the
 * git form (repos, branches, commits, checkout dirs) and the commits its branches point at now.
 */
export function sandboxCacheKey(source: SandboxSource, version?: string): string {
  if (source.kind === 'tarball')
    return sha256Hex(
      version ? `${canonicalTarballUrl(source.url)}\n${version}` : canonicalTarballUrl(source.url),
    );
  const repo = (r: { url: string; branch?: string; commit?: string }) => [
    r.url,
    r.branch ?? null,
    r.commit ?? null,
  ];
  return sha256Hex(
    JSON.stringify([
      'git',
      ...repo(source),
      source.scripts.map((s) => [s.name, ...repo(s), s.checkoutDir]),
      ...(version ? [version] : []),
    ]),
  );
}

async function assertNotEmpty(tree: string, label: string, ignore: string[] = []): Promise<void> {
  const names = (await readdir(tree).catch(() => [] as string[])).filter((n) => !ignore.includes(n));
  if (names.length === 0) {
    throw new LrtError('E_SANDBOX', `sandbox ${label} is empty`, {
      exitCode: -2,
      details: { source: label },
    });
  }
}

async function buildTree(tree: string, label: string, options: PrepareSandboxOptions): Promise<BuiltInfo> {
  const { source, signal } = options;
  if (source.kind === 'git') {
    const cloned = await cloneGitSandbox(source, tree, { signal, git: options.git });
    await assertNotEmpty(tree, label, ['.git']);
    return { commit: cloned.commit };
  }
  const download = `${tree}.download`;
  await fetchTarball(source.url, download, { signal, mover: options.mover, dispatcher: options.dispatcher });
  const summary = await safeExtract(download, tree, { ...options.limits, signal, label });
  await rm(download, { force: true });
  await assertNotEmpty(tree, label);
  return { sha256: summary.sha256, entries: summary.entries };
}

async function checkMasterScript(dir: string, label: string, logger: Logger): Promise<void> {
  const path = join(dir, 'master.sh');
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) {
    throw new LrtError('E_SANDBOX', `sandbox ${label}: master.sh missing`, {
      exitCode: 127,
      details: { source: label },
    });
  }
  if ((info.mode & 0o100) === 0) {
    logger.warn({ source: label }, 'master.sh was not executable: made it so');
    await chmod(path, info.mode | 0o100);
  }
}

/**
 * Puts the sandbox a token asks for into its job dir: fetched once per node into the cache
 * (tarball: downloaded, vetted, extracted; git: cloned), then copied, so a payload that edits
 * its files cannot spoil the cache for the next token. Checks master.sh is there (127 if not;
 * an empty sandbox is -2).
 */
export async function prepareSandbox(options: PrepareSandboxOptions): Promise<PreparedSandbox> {
  const { source, jobDir, signal } = options;
  const logger = options.logger ?? silentLogger();
  const label = describeSandbox(source);
  const version =
    source.kind === 'tarball'
      ? await tarballVersion(source.url, { signal, dispatcher: options.dispatcher, stat: options.stat })
      : await gitSandboxVersion(source, { signal, git: options.git });
  const key = sandboxCacheKey(source, version);
  // A tarball whose version cannot be told is fetched for this token alone: a stale one never runs.
  const shared = version !== undefined ? options.cacheDir : undefined;
  if (shared === undefined && options.cacheDir !== undefined) {
    logger.info({ source: label }, 'sandbox version unknown (no ETag, Last-Modified or stat): fetched fresh');
  }
  let privateCache: string | undefined;
  if (shared === undefined) {
    await mkdir(dirname(jobDir), { recursive: true });
    privateCache = await mkdtemp(join(dirname(jobDir), '.lrt-sandbox-'));
  }
  try {
    const entry = await cachedEntry(
      shared ?? privateCache!,
      key,
      label,
      async (tree) => ({ ...(await buildTree(tree, label, options)), ...(version ? { version } : {}) }),
      { ...options.lock, signal, logger },
    );
    signal?.throwIfAborted();
    await mkdir(jobDir, { recursive: true });
    // verbatimSymlinks: fs.cp would otherwise point relative links back into the cache.
    await cp(entry.tree, jobDir, {
      recursive: true,
      verbatimSymlinks: true,
      force: true,
      errorOnExist: false,
    });
    await checkMasterScript(jobDir, label, logger);
    logger.info({ source: label, key, fromCache: entry.fromCache, version }, 'sandbox ready');
    return {
      dir: jobDir,
      fromCache: entry.fromCache,
      ...(version ? { version } : {}),
      key,
      sha256: entry.marker.sha256,
      commit: entry.marker.commit,
    };
  } finally {
    if (privateCache) await rm(privateCache, { recursive: true, force: true });
  }
}
