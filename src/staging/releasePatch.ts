import type { TokenDoc } from '../picas/tokenDoc';
import { STAGING_FIELD, STAGING_STATUS } from './gatedTokens';

/**
 * The token moved from `staging` to `todo`, or the reason it must not be: someone else changed
 * it since we looked (claimed it, reset it, finished it). Pure; `now` in epoch seconds.
 */
export function releasePatch(doc: TokenDoc, now: number): { doc: TokenDoc } | { reason: string } {
  if (doc.status !== STAGING_STATUS) return { reason: `status is "${String(doc.status)}", not staging` };
  if (doc.lock !== 0 || doc.done !== 0) return { reason: 'the token is locked or done' };
  const times = typeof doc.times === 'object' && doc.times !== null ? doc.times : {};
  return {
    doc: {
      ...doc,
      status: 'todo',
      times: { ...times, todo: now },
      [STAGING_FIELD]: { ...doc[STAGING_FIELD], released: now },
    },
  };
}

/** The request ids a staging token names (`staging.requests`). Pure. */
export function requestIdsOf(doc: TokenDoc): number[] {
  const staging = doc[STAGING_FIELD];
  const ids = Array.isArray(staging?.requests) ? staging.requests : [];
  return ids.filter((id): id is number => Number.isSafeInteger(id));
}

/** Whether a token can go: every one of its SURLs is online. Pure. */
export function tokenReadiness(
  surls: readonly string[],
  isOnline: (surl: string) => boolean,
): { online: number; ready: boolean } {
  const online = surls.filter(isOnline).length;
  return { online, ready: surls.length > 0 && online === surls.length };
}
