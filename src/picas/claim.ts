import { randomUUID } from 'node:crypto';
import type nano from 'nano';
import { LrtError } from '../core';
import { couchError, type PicasDb, statusOf, type TokenDoc } from './client';
import { EXPIRED_VIEW } from './designDoc';
import type { JobIds } from './jobIds';
import { type ClaimInput, claimPatch, leaseOf, type ReclaimResult, reclaimPatch } from './lease';

/**
 * The guarded claim (token-format.md, Protocol): read a page of the `todo` view with the docs,
 * try its candidates in random order, PUT the claimed doc with the `_rev` read; 409/404 means
 * someone was faster, so try the next one. Two round trips per claim when nobody races us.
 */

export interface ClaimOptions {
  pilotId: string;
  host: string;
  leaseSeconds: number;
  /** Leases that expired this many times in a row send the token to error. */
  maxAttempts: number;
  jobIds?: JobIds;
  /**
   * View of `_design/<type>` to claim from (default `todo`). It must list free tokens only
   * (`lock==0 && done==0`): a view that keeps listing others makes the claim wait for them.
   */
  view?: string;
  /** Candidates read per query (default 10). */
  pageSize?: number;
  /** Take over tokens whose lease expired when the view has nothing (default true). */
  reclaimExpired?: boolean;
  /**
   * Re-read the claimed doc with `conflicts=true` (one more round trip): needed on clustered
   * CouchDB (n > 1), where two claims on two nodes can both succeed. Never fires on one node.
   */
  checkConflicts?: boolean;
  /** [0, 1), default Math.random: the candidate order and the backoff jitter. */
  rng?: () => number;
  /** Epoch milliseconds, default Date.now. */
  clock?: () => number;
  /** Default crypto.randomUUID. */
  newLeaseId?: () => string;
  /** Backoff after a page where every candidate was taken: full jitter up to base*2^round, capped. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  signal?: AbortSignal;
  onEvent?: (event: ClaimEvent) => void;
  /**
   * The caller's candidate cache (see newCandidateCache): the rest of the last todo page is tried
   * on the next claim before the view is read again, so a claim usually costs one PUT.
   */
  cache?: CandidateCache;
  /** Cached candidates older than this are dropped unread (default 2000 ms). */
  cacheMaxAgeMs?: number;
}

/**
 * What a claimer keeps between claims: the unused candidates of its last todo page and where in
 * the view that page came from. Reading the view is what costs the server (it updates the index
 * for every token claimed since), so a claimer reads it once per page, not once per claim.
 */
export interface CandidateCache {
  docs: TokenDoc[];
  /** Epoch ms of the read. */
  readAt: number;
  /** The view's row count at the last read: random windows start below it. */
  totalRows: number;
}

export function newCandidateCache(): CandidateCache {
  return { docs: [], readAt: 0, totalRows: 0 };
}

/** The page a pilot with a candidate cache reads: big enough that concurrent pilots rarely overlap. */
export const CACHED_CLAIM_PAGE_SIZE = 25;

/** Windows start at most this deep: `skip` costs the server a walk over the skipped rows. */
const MAX_WINDOW_SKIP = 2000;

export type ClaimEvent =
  /** Another pilot took it first (409/404 on PUT, or a lost replica conflict). */
  | { type: 'race'; token: string }
  /** A token whose lease expired too often was sent to error. */
  | { type: 'errored'; token: string; reason: string }
  | { type: 'backoff'; ms: number };

export interface ClaimedToken {
  /** The token as written, with its new `_rev`: pass it as `current` to the first fenced write. */
  doc: TokenDoc;
  leaseId: string;
  /** True when it was taken over from a pilot whose lease expired. */
  reclaimed: boolean;
}

interface Settings extends Required<Omit<ClaimOptions, 'signal' | 'onEvent' | 'jobIds' | 'cache'>> {
  jobIds: JobIds;
  cache: CandidateCache | undefined;
  signal: AbortSignal | undefined;
  emit: (event: ClaimEvent) => void;
}

interface PageResult {
  claimed?: ClaimedToken;
  /** The page had candidates, but all were taken by others: worth another look. */
  contended: boolean;
  /** Tokens were moved to error: the expired view changed, look again at once. */
  progressed: boolean;
}

/** Fisher-Yates with the injected rng. */
export function shuffle<T>(items: T[], rng: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Full jitter: uniform in [0, min(max, base*2^round)]. */
export function backoffDelay(round: number, rng: () => number, baseMs: number, maxMs: number): number {
  return Math.floor(rng() * Math.min(maxMs, baseMs * 2 ** Math.min(round, 30)));
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const done = () => {
      signal?.removeEventListener('abort', aborted);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const aborted = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', aborted, { once: true });
  });
}

interface ViewRow {
  id: string;
  doc?: TokenDoc | null;
}

async function readView(
  picas: PicasDb,
  type: string,
  view: string,
  qs: Record<string, unknown>,
  s: Settings,
) {
  try {
    const res = await picas.server.request({
      db: picas.name,
      path: `_design/${encodeURIComponent(type)}/_view/${encodeURIComponent(view)}`,
      qs: { include_docs: true, ...qs },
      signal: s.signal,
    } as nano.RequestOptions);
    const body = res as { rows?: ViewRow[]; total_rows?: number };
    const rows = (body.rows ?? []).filter((r): r is ViewRow & { doc: TokenDoc } => !!r.doc);
    return { rows, totalRows: typeof body.total_rows === 'number' ? body.total_rows : rows.length };
  } catch (err) {
    if (s.signal?.aborted) throw s.signal.reason;
    if (statusOf(err) === 404) {
      throw new LrtError(
        'E_VIEW_NOT_FOUND',
        `view ${view} of token type ${type} not found in ${picas.name} (HTTP 404: no such view, design document or database): create the views of _design/${type} first`,
        { details: { database: picas.name, type, view }, cause: err },
      );
    }
    throw couchError(picas, `read view ${type}/${view}`, err);
  }
}

/** PUT with the `_rev` read: the new rev, or undefined when someone else got there first. */
async function put(picas: PicasDb, doc: TokenDoc, leaseId: string): Promise<string | undefined> {
  try {
    return (await picas.db.insert(doc)).rev;
  } catch (err) {
    const status = statusOf(err);
    if (status === 409 || status === 404) return undefined;
    const failure = couchError(picas, `claim token ${doc._id}`, err);
    // No reply at all: the claim may have been written. If it was, the token is ours; else it would
    // sit locked under a lease nobody holds until that lease expires.
    if (status === undefined) {
      const landed = await ownRevision(picas, doc._id, leaseId);
      if (landed) return landed;
    }
    throw failure;
  }
}

/** The token's current `_rev` when it carries our lease; undefined otherwise or when unreadable. */
async function ownRevision(picas: PicasDb, id: string, leaseId: string): Promise<string | undefined> {
  try {
    const current = await picas.db.get(id);
    return leaseOf(current)?.id === leaseId ? current._rev : undefined;
  } catch {
    return undefined;
  }
}

/**
 * After a claim on a cluster: the revision CouchDB picked as winner keeps the token; a pilot
 * whose revision lost deletes it (so the conflict heals) and moves on. True when we keep it.
 */
export async function keepsClaim(picas: PicasDb, id: string, rev: string, leaseId: string): Promise<boolean> {
  let current: TokenDoc & { _conflicts?: string[] };
  try {
    current = await picas.db.get(id, { conflicts: true });
  } catch (err) {
    if (statusOf(err) === 404) return false;
    throw couchError(picas, `check token ${id} for conflicts`, err);
  }
  if (leaseOf(current)?.id === leaseId) return true;
  if (current._conflicts?.includes(rev)) {
    try {
      await picas.db.destroy(id, rev);
    } catch (err) {
      // Someone else healed it already, or a later write replaced it: nothing left to do.
      if (statusOf(err) !== 409 && statusOf(err) !== 404)
        throw couchError(picas, `delete losing rev of ${id}`, err);
    }
  }
  return false;
}

/** Ids whose unclaimable rev was seen before: a view that lists only those is stuck, not busy. */
type SeenUnclaimable = Map<string, string | undefined>;

function patchFor(doc: TokenDoc, input: ClaimInput, reclaim: boolean, maxAttempts: number): ReclaimResult {
  if (reclaim) return reclaimPatch(doc, { ...input, maxAttempts });
  const claimed = claimPatch(doc, input);
  return 'skip' in claimed ? claimed : { doc: claimed.doc, outcome: 'claimed' };
}

interface PageQuery {
  view: string;
  qs: Record<string, unknown>;
  /** Reclaim expired leases (reclaimPatch) instead of claiming free tokens (claimPatch). */
  reclaim: boolean;
}

/**
 * Tries candidates in order, removing each one tried from `docs` (what is left stays usable for
 * the next claim). Stops at the first claim.
 */
async function tryCandidates(
  picas: PicasDb,
  docs: TokenDoc[],
  reclaim: boolean,
  s: Settings,
  seen: SeenUnclaimable,
): Promise<PageResult> {
  const result: PageResult = { contended: false, progressed: false };
  while (docs.length > 0) {
    const doc = docs.shift()!;
    // Once told to stop, claim nothing more; a claim already written is still returned.
    s.signal?.throwIfAborted();
    const now = Math.floor(s.clock() / 1000);
    const leaseId = s.newLeaseId();
    const input: ClaimInput = {
      leaseId,
      pilot: s.pilotId,
      host: s.host,
      jobIds: s.jobIds,
      now,
      leaseSeconds: s.leaseSeconds,
    };
    const patch = patchFor(doc, input, reclaim, s.maxAttempts);
    if ('skip' in patch) {
      // A doc changed between the index read and the doc fetch is news; the same rev again is not.
      if (seen.get(doc._id) !== doc._rev) result.contended = true;
      seen.set(doc._id, doc._rev);
      continue;
    }
    const rev = await put(picas, patch.doc, leaseId);
    if (rev === undefined) {
      s.emit({ type: 'race', token: doc._id });
      result.contended = true;
      continue;
    }
    if (patch.outcome === 'errored') {
      s.emit({ type: 'errored', token: doc._id, reason: patch.reason });
      result.progressed = true;
      continue;
    }
    if (s.checkConflicts && !(await keepsClaim(picas, doc._id, rev, leaseId))) {
      s.emit({ type: 'race', token: doc._id });
      result.contended = true;
      continue;
    }
    result.claimed = { doc: { ...patch.doc, _rev: rev }, leaseId, reclaimed: reclaim };
    return result;
  }
  return result;
}

async function tryPage(
  picas: PicasDb,
  type: string,
  query: PageQuery,
  s: Settings,
  seen: SeenUnclaimable,
): Promise<PageResult> {
  const { rows } = await readView(picas, type, query.view, { ...query.qs, limit: s.pageSize }, s);
  return tryCandidates(
    picas,
    shuffle(
      rows.map((r) => r.doc),
      s.rng,
    ),
    query.reclaim,
    s,
    seen,
  );
}

/**
 * The todo step with a cache: first the cached candidates (while fresh), then a page from a
 * random window of the view, so concurrent claimers start on different tokens. Only an empty
 * page from the top of the view means the view is empty.
 */
async function tryTodo(
  picas: PicasDb,
  type: string,
  s: Settings,
  seen: SeenUnclaimable,
): Promise<PageResult> {
  const cache = s.cache;
  if (!cache) return tryPage(picas, type, { view: s.view, qs: {}, reclaim: false }, s, seen);
  let contended = false;
  if (cache.docs.length > 0 && s.clock() - cache.readAt <= s.cacheMaxAgeMs) {
    const cached = await tryCandidates(picas, cache.docs, false, s, seen);
    if (cached.claimed) return cached;
    contended = cached.contended;
  }
  cache.docs = [];
  if (cache.totalRows === 0) {
    // A new claimer learns the view's size first (no rows, no index update), so that even
    // pilots starting together pick different windows.
    cache.totalRows = (await readView(picas, type, s.view, { limit: 0, stale: 'ok' }, s)).totalRows;
    // An index never built (tokens just made) reads as empty when stale: ask once with the update,
    // which all pilots starting together wait for together, or they would all take the top page.
    if (cache.totalRows === 0) {
      cache.totalRows = (await readView(picas, type, s.view, { limit: 0 }, s)).totalRows;
    }
  }
  const room = Math.min(MAX_WINDOW_SKIP, Math.max(0, cache.totalRows - s.pageSize));
  const skip = Math.floor(s.rng() * (room + 1));
  const window = { limit: s.pageSize, ...(skip > 0 ? { skip } : {}) };
  // First from the index as it stands (stale=ok: no index update, the server's main cost per
  // claim); the docs come fresh with include_docs, so rows of tokens claimed since cost no PUT.
  // Only when that page yields nothing is the index brought up to date (and read from the top).
  const reads = [{ ...window, stale: 'ok' }, ...(skip > 0 ? [window] : []), { limit: s.pageSize }];
  for (const qs of reads) {
    const page = await readView(picas, type, s.view, qs, s);
    cache.totalRows = page.totalRows;
    cache.readAt = s.clock();
    cache.docs = shuffle(
      page.rows.map((r) => r.doc),
      s.rng,
    );
    const fresh = await tryCandidates(picas, cache.docs, false, s, seen);
    contended ||= fresh.contended;
    if (fresh.claimed) return fresh;
  }
  return { contended, progressed: false };
}

function settingsOf(o: ClaimOptions): Settings {
  const pageSize = o.pageSize ?? 10;
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new LrtError('E_USAGE', `claim page size must be a whole number >= 1, got ${pageSize}`);
  }
  return {
    pilotId: o.pilotId,
    host: o.host,
    leaseSeconds: o.leaseSeconds,
    maxAttempts: o.maxAttempts,
    jobIds: o.jobIds ?? {},
    view: o.view ?? 'todo',
    pageSize,
    reclaimExpired: o.reclaimExpired ?? true,
    checkConflicts: o.checkConflicts ?? false,
    rng: o.rng ?? Math.random,
    clock: o.clock ?? Date.now,
    newLeaseId: o.newLeaseId ?? randomUUID,
    backoffBaseMs: o.backoffBaseMs ?? 50,
    backoffMaxMs: o.backoffMaxMs ?? 2000,
    signal: o.signal,
    emit: o.onEvent ?? (() => {}),
    cache: o.cache,
    cacheMaxAgeMs: o.cacheMaxAgeMs ?? 2000,
  };
}

/**
 * Claim one token of `type`, or return null when there is nothing to claim: the view is empty
 * (or lists only tokens that are not claimable) and no lease has expired. Never gives up while
 * candidates exist; races are retried with jittered backoff. Tokens whose lease expired too
 * often are sent to error on the way (reported as `errored` events).
 */
export async function claimToken(
  picas: PicasDb,
  type: string,
  options: ClaimOptions,
): Promise<ClaimedToken | null> {
  const s = settingsOf(options);
  const seenTodo: SeenUnclaimable = new Map();
  const seenExpired: SeenUnclaimable = new Map();
  for (let round = 0; ; ) {
    s.signal?.throwIfAborted();
    const todo = await tryTodo(picas, type, s, seenTodo);
    if (todo.claimed) return todo.claimed;
    let contended = todo.contended;
    if (!contended && s.reclaimExpired) {
      const endkey = Math.floor(s.clock() / 1000);
      const expired = await tryExpired(picas, type, endkey, s, seenExpired);
      if (expired.claimed) return expired.claimed;
      if (expired.progressed) continue;
      contended = expired.contended;
    }
    if (!contended) return null;
    const ms = backoffDelay(round++, s.rng, s.backoffBaseMs, s.backoffMaxMs);
    s.emit({ type: 'backoff', ms });
    await sleep(ms, s.signal);
  }
}

/** Databases made by older tools have no `expired` view: nothing can have expired there. */
async function tryExpired(picas: PicasDb, type: string, endkey: number, s: Settings, seen: SeenUnclaimable) {
  try {
    return await tryPage(picas, type, { view: EXPIRED_VIEW, qs: { endkey }, reclaim: true }, s, seen);
  } catch (err) {
    if (err instanceof LrtError && err.code === 'E_VIEW_NOT_FOUND') {
      return { contended: false, progressed: false } satisfies PageResult;
    }
    throw err;
  }
}
