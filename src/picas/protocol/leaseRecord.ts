import {
  type AttemptRecord,
  type Lease,
  type TokenDoc,
  type TokenErrorEntry,
  type TokenErrorList,
  type TokenFields,
  type Tombstone,
  withoutFields,
} from '../tokenDoc';

/*
 * The records a lease leaves on a token (lease, attempts, errors, times) and how to read them;
 * the patches of claimPatch.ts and lease.ts are built from these.
 */

export const MAX_ATTEMPT_RECORDS = 20;
export const MAX_ERROR_RECORDS = 20;
export const STDERR_TAIL_CHARS = 4000;
export const LEASE_EXPIRED = 'lease expired';
/** Statuses with a protocol meaning: a payload status line may not pose as one of them. */
export const PROTOCOL_STATUSES = ['todo', 'locked', 'done', 'error', 'staging'];

export type Patched = { doc: TokenDoc };
export type Deleted = { doc: Tombstone };
export type Skipped = { skip: string };
/** A login-side change: the document to write (same `_rev`) or a reason to leave the token alone. */
export type TokenPatch = (doc: TokenDoc) => Patched | Deleted | Skipped;
/** The token's lease is not ours any more (reset, reclaimed, finished, deleted or taken over). */
export interface LeaseLost {
  lost: true;
  /** The lease id now on the token, if any. */
  holder: string | undefined;
  /** Another tool took the token: the `hostname` it wrote (see takenOverBy). */
  takenOverBy?: string;
}

// ---------------------------------------------------------------- reading a token

/**
 * `value == 0` as the views compute it (GRID_LRT compares with JavaScript `==`): 0, "0", "", false
 * and [] are free, a missing or null field is not. Anything the todo view lists must be claimable,
 * or it stays in the view for ever and a page full of such tokens hides the claimable ones.
 */
export function isZero(value: unknown): boolean {
  return value !== null && value !== undefined && Number(value) === 0;
}

/** The lease on a token, read or stored (it reads nothing else). */
export function leaseOf(doc: Pick<TokenFields, 'lease'>): Lease | undefined {
  // Typed as grid-lrt writes it; a token rewritten by hand or another tool may hold anything.
  const lease = doc.lease;
  if (!lease || typeof lease !== 'object' || typeof lease.id !== 'string') return undefined;
  return lease;
}

export function attemptsOf(doc: Pick<TokenFields, 'attempts'>): AttemptRecord[] {
  if (!Array.isArray(doc.attempts)) return [];
  return doc.attempts.filter(
    (a): a is AttemptRecord => !!a && typeof a === 'object' && typeof a.n === 'number',
  );
}

export function timesOf(doc: TokenDoc): Record<string, number> {
  const times = doc.times;
  return times && typeof times === 'object' && !Array.isArray(times) ? { ...times } : {};
}

export function scrubCount(doc: TokenDoc): number {
  const n = Number(doc.scrub_count);
  return Number.isFinite(n) ? n : 0;
}

/** The token's own `lease_s` wins over the pilot's setting. */
export function leaseLength(doc: TokenDoc, fallback: number): number {
  const own = doc.lease_s;
  return typeof own === 'number' && Number.isFinite(own) && own > 0 ? own : fallback;
}

export function isClaimable(doc: TokenDoc): boolean {
  return claimBlocker(doc) === undefined;
}

export function claimBlocker(doc: TokenDoc): string | undefined {
  if (!isZero(doc.done)) return `token ${doc._id} is finished (done=${String(doc.done)})`;
  if (!isZero(doc.lock)) return `token ${doc._id} is locked (lock=${String(doc.lock)})`;
  if (doc.status === 'staging') return `token ${doc._id} is still staging its inputs`;
  return undefined;
}

/**
 * The host of another tool that took the token while the lease is still on it, else undefined:
 * `lock` is no longer the one the claim wrote (`lease.lock`; leases from before it was recorded
 * are judged by the host alone), or `hostname` no longer the lease's host. picasclient's claim
 * does exactly that to a token it finds in a stale `todo` page, without looking at `lease`.
 */
export function takenOverBy(doc: TokenDoc, lease: Lease): string | undefined {
  const lockChanged = typeof lease.lock === 'number' && Number(doc.lock) !== lease.lock;
  const hostChanged = typeof doc.hostname === 'string' && doc.hostname !== lease.host;
  if (!lockChanged && !hostChanged) return undefined;
  return typeof doc.hostname === 'string' && doc.hostname !== '' ? doc.hostname : 'an unknown host';
}

/** Ours to write: our lease is on the token and no other tool took the token from under it. */
export function fence(doc: TokenDoc, leaseId: string): Lease | LeaseLost {
  const lease = leaseOf(doc);
  if (lease?.id !== leaseId) return { lost: true, holder: lease?.id };
  const taker = takenOverBy(doc, lease);
  if (taker !== undefined) return { lost: true, holder: lease.id, takenOverBy: taker };
  return lease;
}

/** Exactly 0 or "0": the stricter test the login-side patches use to see a token already free. */
export function isStrictZero(value: unknown): boolean {
  return value === 0 || value === '0';
}

export function isPositive(value: unknown): boolean {
  return Number(value) > 0;
}

/** Free, unfinished, at `todo`, held by no pilot: what a reset produces. */
export function isFreeAtTodo(doc: TokenDoc): boolean {
  return isStrictZero(doc.lock) && isStrictZero(doc.done) && doc.status === 'todo' && doc.lease === undefined;
}

// ---------------------------------------------------------------- list helpers

export function lastItems<T>(list: T[], max: number): T[] {
  return list.length > max ? list.slice(list.length - max) : list;
}

/** Closes attempt `n` (or, failing that, the last open one) with `fields`. */
export function closeAttempt(
  attempts: AttemptRecord[],
  n: number | undefined,
  fields: Partial<AttemptRecord>,
) {
  let index = attempts.findIndex((a) => a.n === n && a.ended === undefined);
  if (index < 0 && attempts.at(-1)?.ended === undefined) index = attempts.length - 1;
  if (index < 0) return { attempts, closed: undefined };
  const closed = { ...attempts[index]!, ...fields };
  return { attempts: attempts.map((a, i) => (i === index ? closed : a)), closed };
}

export function appendError(existing: TokenDoc['error'], entry: TokenErrorEntry): TokenErrorList {
  let list: TokenErrorList = [];
  if (Array.isArray(existing)) list = existing;
  else if (existing !== undefined && existing !== null && existing !== '') list = [existing];
  return lastItems([...list, entry], MAX_ERROR_RECORDS);
}

export function withoutLease(doc: TokenDoc): TokenDoc {
  return withoutFields(doc, ['lease']);
}

/** `times` with `name` set to `now`. */
export function withTime(doc: TokenDoc, name: string, now: number): Record<string, number> {
  return { ...timesOf(doc), [name]: now };
}
