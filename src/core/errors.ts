/**
 * One error class for the whole toolkit. `code` is stable (scripts and tests match on it),
 * `exitCode` is the LOFAR/CLI exit code where one applies, and messages never hold secrets:
 * build them with `redactUrl` / `scrubSecrets` from ./redact.
 */
export type ErrorCode =
  | 'E_USAGE'
  | 'E_CONFIG'
  | 'E_SURL'
  | 'E_SURL_LIST'
  | 'E_DB_UNREACHABLE'
  | 'E_DB_AUTH'
  | 'E_DB_FORBIDDEN'
  | 'E_DB_NOT_FOUND'
  | 'E_DB'
  | 'E_CONFLICT'
  | 'E_TOKEN_NOT_FOUND'
  | 'E_VIEW_NOT_FOUND'
  | 'E_ATTACHMENT'
  | 'E_CLAIM_RACE'
  | 'E_LEASE_LOST'
  | 'E_UNSAFE_ENTRY'
  | 'E_SANDBOX'
  | 'E_TRANSFER'
  | 'E_TRANSFER_AUTH'
  | 'E_NOT_FOUND'
  | 'E_NOT_STAGED'
  | 'E_CHECKSUM'
  | 'E_TOOL_MISSING'
  | 'E_TIMEOUT'
  | 'E_PAYLOAD'
  | 'E_IO'
  | 'E_STAGER'
  | 'E_STAGER_AUTH'
  | 'E_STAGER_FAULT'
  | 'E_UNSUPPORTED'
  | 'E_EXISTS';

export interface LrtErrorOptions {
  cause?: unknown;
  exitCode?: number;
  details?: Record<string, unknown>;
}

export class LrtError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number | undefined;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: LrtErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LrtError';
    this.code = code;
    this.exitCode = options.exitCode;
    this.details = options.details ?? {};
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.details };
  }
}

export function isLrtError(err: unknown, code?: ErrorCode): err is LrtError {
  return err instanceof LrtError && (code === undefined || err.code === code);
}

/** The message of anything thrown, for places that must report without rethrowing. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * A file system error in words for a message naming the file (`ENOENT` means nothing to most
 * users): no such file (for a write: its folder), a directory, no permission; else its message.
 */
export function fileProblem(err: unknown, action: 'read' | 'write' = 'read'): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return action === 'read' ? 'no such file' : 'its folder does not exist';
  if (code === 'EISDIR') return 'it is a directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOTDIR') return 'a part of its path is not a folder';
  if (code === 'ELOOP') return 'its symbolic links point in a loop';
  return errorMessage(err);
}

/** A file that could not be read: E_NOT_FOUND when it is missing, else E_IO; `what` leads the message. */
export function fileReadError(what: string, err: unknown): LrtError {
  const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
  return new LrtError(missing ? 'E_NOT_FOUND' : 'E_IO', `${what}: ${fileProblem(err)}`, { cause: err });
}

/** `value` when it is one of `choices`; else a usage error naming `option` and the choices. */
export function choiceOf<T extends string>(option: string, choices: readonly T[], value: string): T {
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new LrtError('E_USAGE', `${option} must be one of ${choices.join(', ')}, got "${value}"`);
}
