/**
 * What a token asks for, already parsed from `SBXloc` / `config.json.sandbox` (src/pilot does
 * that). The shapes match src/pilot/sandboxSource.ts structurally.
 */
export interface GitRepoSpec {
  url: string;
  branch?: string;
  commit?: string;
}

export interface GitScriptRepo extends GitRepoSpec {
  name: string;
  /** Relative to the sandbox root. */
  checkoutDir: string;
}

export interface GitSandbox extends GitRepoSpec {
  kind: 'git';
  scripts: GitScriptRepo[];
}

/** A .tar or .tar.gz at `file://`, a plain path, `http(s)://`, or a grid URL (`gsiftp://`, `srm://`). */
export interface TarballSandbox {
  kind: 'tarball';
  url: string;
}

export type SandboxSource = GitSandbox | TarballSandbox;

/**
 * Downloads a grid URL (gsiftp, srm ...) to a local file; src/transfer provides the real one.
 * Must leave either the complete file at `destFile` or nothing.
 */
export type SandboxMover = (url: string, destFile: string, signal?: AbortSignal) => Promise<void>;

/** Size and modification time (and adler32, where the storage tells it) of a grid URL. */
export type SandboxStat = (
  url: string,
  signal?: AbortSignal,
) => Promise<{ size: number; modified?: string; adler32?: string }>;

/** Guards against tar bombs; both are checked from the headers, before anything is written. */
export interface ExtractLimits {
  /** Sum of the sizes of all files (default 20 GiB). */
  maxBytes?: number;
  /** Number of entries of any kind (default 100 000). */
  maxEntries?: number;
}

export const DEFAULT_MAX_BYTES = 20 * 1024 ** 3;
export const DEFAULT_MAX_ENTRIES = 100_000;
