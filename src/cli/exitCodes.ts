import type { ErrorCode } from '../core';

/** Exit codes of `lrt`. Stable: scripts depend on them. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  unreachable: 3,
  auth: 4,
  notFound: 5,
  /** Bulk work finished but some items failed (conflicts that did not resolve, refused docs). */
  partial: 6,
  invalidInput: 7,
  /** Stopped by Ctrl-C (128 + SIGINT), after saying what was done. */
  interrupted: 130,
} as const;

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'E_USAGE':
      return EXIT.usage;
    case 'E_DB_UNREACHABLE':
      return EXIT.unreachable;
    case 'E_DB_AUTH':
    case 'E_DB_FORBIDDEN':
    case 'E_STAGER_AUTH':
    case 'E_TRANSFER_AUTH':
      return EXIT.auth;
    case 'E_DB_NOT_FOUND':
    case 'E_TOKEN_NOT_FOUND':
    case 'E_VIEW_NOT_FOUND':
    case 'E_NOT_FOUND':
    case 'E_ATTACHMENT':
      return EXIT.notFound;
    case 'E_CONFIG':
    case 'E_SURL':
    case 'E_SURL_LIST':
    case 'E_UNSAFE_ENTRY':
      return EXIT.invalidInput;
    default:
      return EXIT.failure;
  }
}

export const EXIT_CODE_HELP = `Exit codes: 0 ok, 1 failure, 2 usage error, 3 database unreachable,
4 authentication refused, 5 not found, 6 partly done (some items failed), 7 invalid input,
130 stopped by Ctrl-C (after saying what was done).`;
