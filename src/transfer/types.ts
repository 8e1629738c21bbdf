import type { Dispatcher } from 'undici';

/** Grid command-line tools the movers run; each can be pointed at another path (e.g. on CVMFS). */
export type GridTool = 'globus-url-copy' | 'gfal-ls' | 'gfal-sum';
export type ToolPaths = Partial<Record<GridTool, string>>;

/**
 * Everything a transfer can be told. Settings are resolved at the edge (flags, env, files) and
 * passed in: the movers never read process.env themselves.
 */
export interface TransferOptions {
  signal?: AbortSignal;
  /** Create missing directories at the destination (globus-url-copy -cd, MKCOL, mkdir -p). */
  createDirs?: boolean;
  /** Fail with E_CHECKSUM (and keep nothing) unless the fetched bytes have this adler32. */
  expectedAdler32?: string;
  /** Give up when no data moves for this long (-stall-timeout; undici body/headers timeout). */
  stallTimeoutSeconds?: number;
  /** Called with the number of bytes each time data arrives (https and file movers). */
  onProgress?: (bytes: number) => void;

  // Grid (gsiftp / srm)
  /** X.509 proxy file: globus-url-copy -cred, X509_USER_PROXY for gfal. */
  proxy?: string;
  /** Trusted CA directory (X509_CERT_DIR). */
  certDir?: string;
  /**
   * GridFTP doors to use instead of an LTA site's own for srm:// (site name -> `gsiftp://host:port`
   * with an optional path prefix): a site's new door, a local copy, the test bed.
   */
  gsiftpDoors?: Readonly<Record<string, string>>;
  /** globus-url-copy -p N parallel data streams. */
  parallel?: number;
  /** globus-url-copy -rst with this many retries inside one run; unset = no restarts. */
  restartRetries?: number;
  /** Python with the gfal2 bindings for the gfal-* scripts (GFAL_PYTHONBIN); /usr/bin/python3 by default. */
  gfalPython?: string;
  tools?: ToolPaths;

  // HTTP (https / davs)
  /** Sent as `Authorization: Bearer ...`: an OIDC token or a dCache macaroon. */
  bearerToken?: string;
  /** undici dispatcher, e.g. an Agent with the grid CAs for a davs door. */
  dispatcher?: Dispatcher;
}

export interface FetchResult {
  /** The source URL, credentials redacted. */
  url: string;
  dest: string;
  bytes: number;
  /** adler32 of the local file, when the mover computed one (https, file, or when expected). */
  adler32?: string;
  /** Bytes already present from an earlier interrupted attempt (https Range resume). */
  resumedFrom?: number;
}

export interface PutResult {
  /** The destination URL, credentials redacted. */
  url: string;
  bytes: number;
  /** adler32 of the uploaded bytes, when computed while streaming. */
  adler32?: string;
}

export interface StatResult {
  url: string;
  size: number;
  isDirectory: boolean;
  /** When the storage last changed the file, as it reports it (gfal-ls date, Last-Modified, ISO mtime). */
  modified?: string;
  /** The HTTP entity tag, when the server sends one. */
  etag?: string;
}

export type ChecksumAlgorithm = 'adler32';

/** Moves files between local disk and one kind of storage URL. */
export interface Mover {
  /** URL schemes (without `://`) this mover serves. */
  readonly schemes: readonly string[];
  /** Downloads `url` to the local path `dest` (atomically: a `.part` file renamed at the end). */
  fetch(url: string, dest: string, options?: TransferOptions): Promise<FetchResult>;
  /** Uploads the local file `src` to `url`. */
  put(src: string, url: string, options?: TransferOptions): Promise<PutResult>;
  stat(url: string, options?: TransferOptions): Promise<StatResult>;
  /** The checksum the storage reports (or computes) for `url`, as eight hex digits. */
  checksum?(url: string, algorithm: ChecksumAlgorithm, options?: TransferOptions): Promise<string>;
}
