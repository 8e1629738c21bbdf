import { type ErrorCode, LrtError, redactUrl, scrubSecrets } from '../core';

/** Query parameters that carry credentials in storage URLs (macaroons, pre-signed links). */
const SECRET_PARAMS = /^(authz|access_token|token|macaroon|bearer_token|x-amz-signature|signature)$/i;

/** A URL fit for messages and logs: no password, no token in the query string. */
export function safeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return redactUrl(url);
  }
  for (const key of [...parsed.searchParams.keys()]) {
    if (SECRET_PARAMS.test(key)) parsed.searchParams.set(key, '***');
  }
  return redactUrl(parsed.toString());
}

/** The last few meaningful lines of a tool's stderr, joined, secrets scrubbed, length capped. */
export function stderrTail(
  stderr: string,
  secrets: readonly (string | undefined)[] = [],
  maxChars = 600,
): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((line) => line.replace(/\s+/g, ' ').trim())
    .filter((line) => line !== '' && !/^\d{3}-?$/.test(line) && !/^\d{3}[- ]End\.$/.test(line));
  let tail = lines.slice(-6).join(' | ');
  if (tail.length > maxChars) tail = `...${tail.slice(-maxChars)}`;
  return scrubSecrets(tail, secrets);
}

export type FailureKind = 'auth' | 'not-found' | 'other';

/**
 * The reason of an upload whose folder is missing. The error carries `details.missingDestinationDir`
 * so a command that can create folders names its own flag (`lrt sandbox upload --create-dirs`);
 * this layer names no option.
 */
export const MISSING_DESTINATION_DIR = 'the destination directory does not exist';

// 530 is the GridFTP login reply (unmapped DN, rejected or expired credential); the rest are the
// GSI texts seen when the client cannot load or present its proxy.
const AUTH_RE =
  /\b530\b|Authentication (Error|Failed)|has expired|Gridmap lookup failure|Could not map|Error loading (source |destination )?credential|Permission denied|\bEACCES\b|proxy (not found|file)/i;
const NOT_FOUND_RE = /No such file or directory|PATH_NOT_FOUND|File not found|\bENOENT\b/i;

/**
 * What went wrong, from a grid tool's stderr: globus-url-copy exits 1 for every failure and
 * puts the reason only in its text. Authentication is checked first because a refused login
 * can mention missing files (a grid-mapfile) too.
 */
export function classifyGridStderr(stderr: string): FailureKind {
  if (AUTH_RE.test(stderr)) return 'auth';
  if (NOT_FOUND_RE.test(stderr)) return 'not-found';
  return 'other';
}

/** gfal-* tools exit with the errno of the failure. */
export function classifyGfalExit(exitCode: number | undefined, stderr: string): FailureKind {
  if (exitCode === 2) return 'not-found';
  if (exitCode === 1 || exitCode === 13) return 'auth';
  return classifyGridStderr(stderr);
}

export function httpFailureCode(status: number): ErrorCode {
  if (status === 401 || status === 403) return 'E_TRANSFER_AUTH';
  if (status === 404 || status === 410) return 'E_NOT_FOUND';
  return 'E_TRANSFER';
}

export type Direction = 'fetch' | 'put' | 'query';

/** A missing path on upload is the destination's directory, not a missing source. */
export function kindCode(kind: FailureKind, direction: Direction): ErrorCode {
  if (kind === 'auth') return 'E_TRANSFER_AUTH';
  if (kind === 'not-found' && direction !== 'put') return 'E_NOT_FOUND';
  return 'E_TRANSFER';
}

export interface FailureDescription {
  code: ErrorCode;
  /** What was being done: `download`, `upload to`, `stat`, ... */
  action: string;
  url: string;
  reason: string;
  tool?: string;
  stderr?: string;
  exitCode?: number;
  /** Values to scrub from the message (tokens). */
  secrets?: readonly (string | undefined)[];
  cause?: unknown;
}

/** The LrtError for a failed transfer: names the URL (redacted), the reason and the tool's words. */
export function transferFailure(d: FailureDescription): LrtError {
  const url = safeUrl(d.url);
  const tail = d.stderr ? stderrTail(d.stderr, d.secrets) : '';
  const said = tail ? `; ${d.tool ?? 'the tool'} said: ${tail}` : '';
  const message = scrubSecrets(`${d.action} ${url} failed: ${d.reason}${said}`, d.secrets ?? []);
  return new LrtError(d.code, message, {
    cause: d.cause,
    details: {
      url,
      ...(d.tool ? { tool: d.tool } : {}),
      ...(d.exitCode === undefined ? {} : { toolExitCode: d.exitCode }),
      ...(d.reason.includes(MISSING_DESTINATION_DIR) ? { missingDestinationDir: true } : {}),
    },
  });
}

/** Why a failure of this kind happened, in words for the message; `stderr` sharpens the reason. */
export function describeKind(kind: FailureKind, direction: Direction, stderr = ''): string {
  if (kind === 'auth') {
    if (/has expired/i.test(stderr)) return 'the proxy has expired (make a new one)';
    if (/Gridmap lookup failure|Could not map/i.test(stderr)) {
      return 'the server does not map this certificate DN to an account (grid-mapfile / VO membership)';
    }
    if (/Error loading (source |destination )?credential/i.test(stderr)) return 'the proxy cannot be loaded';
    return 'authentication or authorisation refused (expired proxy, unmapped DN or no access)';
  }
  if (kind === 'not-found') {
    return direction === 'put' ? MISSING_DESTINATION_DIR : 'no such file at the source';
  }
  if (/operation was aborted/i.test(stderr)) return 'the transfer was aborted (stall timeout: no data moved)';
  if (/Unable to connect|Connection refused|Connection timed out/i.test(stderr))
    return 'cannot connect to the server';
  return 'transfer error';
}
