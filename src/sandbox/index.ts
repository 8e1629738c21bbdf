// Worker side: fetch, cache and safely extract the sandbox a token asks for.
export type { CacheEntry, CacheMarker, CacheOptions } from './cache';
export { COMPLETE_MARKER, cachedEntry, TREE_DIR } from './cache';
export { pidAlive } from './cacheLock';
export type { TarEntryInfo, UnsafeEntry } from './entryRules';
export { EntryVetter } from './entryRules';
export { tarballVersion } from './freshness';
export type { ClonedSandbox, GitOptions } from './gitSource';
export { cloneGitSandbox } from './gitSource';
export type { PreparedSandbox, PrepareSandboxOptions } from './prepare';
export { describeSandbox, prepareSandbox, sandboxCacheKey } from './prepare';
export type { ArchiveSummary, ExtractOptions } from './safeExtract';
export { inspectArchive, isGzipFile, safeExtract } from './safeExtract';
export type { FetchTarballOptions } from './sources';
export { fetchTarball, noMover, tarballLocation } from './sources';
export type {
  ExtractLimits,
  GitSandbox,
  GitScriptRepo,
  SandboxMover,
  SandboxSource,
  SandboxStat,
  TarballSandbox,
} from './sourceTypes';
export { DEFAULT_MAX_BYTES, DEFAULT_MAX_ENTRIES } from './sourceTypes';
