import { randomUUID } from 'node:crypto';
import { backoffDelay, isLrtError, LrtError, sleep } from '../../core';
import type { PicasDb } from '../client';
import type { JobIds } from '../jobIds';
import type { TokenDoc } from '../tokenDoc';
import { EXPIRED_VIEW, SPREAD_VIEW } from '../viewDefinitions';
import {
  type CandidateCache,
  customView,
  newCandidateCache,
  readTodoPage,
  readView,
  shuffle,
  spreadTodoView,
  type TodoRead,
  type TodoView,
  todoReads,
  typeView,
  type ViewRef,
} from './candidates';
import { type ClaimInput, claimPatch } from './claim';
import { writeClaim } from './claimWrite';
import { isClaimable } from './leaseRecord';
import { type ReclaimResult, reclaimPatch } from './reclaim';

/**
 * The guarded claim (docs/protocol.md, Claim): read a page of the `todo` view with the docs,
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
   * View of `_design/<type>` to claim from. Default (also for `todo`): `todo_spread` of
   * `_design/claim:<type>`, the same tokens keyed by a hash of the id, or `todo` where that design
   * document or view is missing (views of an older tool). It
   * must list free tokens only (`lock==0 && done==0`): a view that keeps listing others makes the
   * claim wait for them.
   */
  view?: string;
  /** Candidates read per query (default 10). */
  pageSize?: number;
  /** Take over tokens whose lease expired when the view has nothing (default true). */
  reclaimExpired?: boolean;
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
  /**
   * After a lost race the claimer waits a random time, up to twice what the winner needs to use up
   * the page (its free candidates x our PUT round trip), at most this (default 3000 ms). A race
   * means more claimers are at work in the same part of the view than the server takes claims
   * from; those that lose step aside for a moment, which leaves the server as busy and cuts the
   * conflicts (docs/protocol.md, Claim). 0: no pause.
   */
  racePauseMs?: number;
}

export type ClaimEvent =
  /** Another pilot took it first (409/404 on PUT, or a replica conflict settled against us). */
  | { type: 'race'; token: string }
  /** A token whose lease expired too often was sent to error. */
  | { type: 'errored'; token: string; reason: string }
  | { type: 'backoff'; ms: number }
  /** On a cluster: a claim taken by fewer than all replicas was settled before it counted. */
  | { type: 'settled'; token: string; kept: boolean };

export interface ClaimedToken {
  /** The token as written, with its new `_rev`: pass it as `current` to the first fenced write. */
  doc: TokenDoc;
  leaseId: string;
  /** True when it was taken over from a pilot whose lease expired. */
  reclaimed: boolean;
}

interface Settings extends Required<Omit<ClaimOptions, 'signal' | 'onEvent' | 'jobIds' | 'cache' | 'view'>> {
  /** Moving average of our claim PUTs' round trips (ms), undefined before the first. */
  writeMs: number | undefined;
  /** Undefined: `todo_spread` of `_design/claim:<type>` where it exists, else `todo`. */
  view: string | undefined;
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
  /** A PUT lost a race: another claimer reads the same part of the view. */
  raced?: boolean;
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
  stopOnRace = false,
): Promise<PageResult> {
  const result: PageResult = { contended: false, progressed: false };
  while (docs.length > 0 && !(stopOnRace && result.raced)) {
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
    const started = performance.now();
    const { rev, settled } = await writeClaim(picas, patch.doc, leaseId);
    noteWriteTime(s, performance.now() - started);
    if (settled) s.emit({ type: 'settled', token: doc._id, kept: rev !== undefined });
    if (rev === undefined) {
      s.emit({ type: 'race', token: doc._id });
      result.contended = true;
      result.raced = true;
      continue;
    }
    if (patch.outcome === 'errored') {
      s.emit({ type: 'errored', token: doc._id, reason: patch.reason });
      result.progressed = true;
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
  const { rows } = await readView(
    picas,
    typeView(type, query.view),
    { ...query.qs, limit: s.pageSize },
    s.signal,
  );
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
 * The view to claim from: `todo_spread` of `_design/claim:<type>` where it exists, else `todo` of
 * `_design/<type>`; another view of `_design/<type>` only when asked for (--view). `todo_spread`
 * lists exactly the tokens of `todo`, so a claim asked for `todo` (the pilot's default) reads it too.
 */
async function todoView(picas: PicasDb, type: string, s: Settings, cache: CandidateCache): Promise<TodoView> {
  if (s.view === SPREAD_VIEW) return spreadTodoView(type);
  if (cache.view) return cache.view;
  if (s.view !== undefined && s.view !== 'todo') {
    // A custom view (lrt views add) lives in `_design/views:<type>`; older versions put it in `_design/<type>`.
    const custom = { ...customView(type, s.view), spread: false };
    cache.view = (await viewExists(picas, custom, s.signal))
      ? custom
      : { ...typeView(type, s.view), spread: false };
    return cache.view;
  }
  const spread = spreadTodoView(type);
  // No claim design document (views made by an older tool): `todo` (and if that is missing too,
  // reading it says so).
  cache.view = (await viewExists(picas, spread, s.signal))
    ? spread
    : { ...typeView(type, 'todo'), spread: false };
  return cache.view;
}

/** Whether a view exists: no rows, no wait for the index. */
async function viewExists(picas: PicasDb, view: ViewRef, signal: AbortSignal | undefined): Promise<boolean> {
  try {
    await readView(picas, view, { limit: 0, stable: true, update: false }, signal);
    return true;
  } catch (err) {
    if (!isLrtError(err, 'E_VIEW_NOT_FOUND')) throw err;
    return false;
  }
}

/** A moving average of the claim's PUT round trips, kept with the cache for the next claims. */
function noteWriteTime(s: Settings, ms: number): void {
  s.writeMs = s.writeMs === undefined ? ms : 0.8 * s.writeMs + 0.2 * ms;
  if (s.cache) s.cache.writeMs = s.writeMs;
}

/**
 * After a lost race: wait at random up to twice the time the claimer that won needs to use up the
 * page (its candidates x our PUT round trip, which grows with the server's load), at most
 * racePauseMs. The page shrinks as the view drains, and so does the pause.
 */
async function pauseAfterRace(s: Settings, pageRows: number): Promise<void> {
  const cap = Math.min(s.racePauseMs, 2 * pageRows * (s.writeMs ?? 0));
  const ms = Math.floor(s.rng() * cap);
  s.emit({ type: 'backoff', ms });
  await sleep(ms, s.signal);
}

/**
 * The order to try a page in. A spread window from a random key is taken from its end back to
 * its start: the tokens claimed leave a gap at the end of the page, and a claimer whose random key
 * falls into that gap starts after the page, not in the middle of it. (Taken in random order, the
 * gaps left inside a page being used draw other claimers' random keys into it: twice the
 * conflicts.) Other pages in random order, as claimers may share them (the up-to-date window near
 * the end of a drain, windows of a view without spread keys).
 */
function tryOrder(rows: Array<{ doc: TokenDoc }>, read: TodoRead, view: TodoView, s: Settings): TokenDoc[] {
  const docs = rows.map((r) => r.doc);
  return view.spread && !read.upToDate ? docs.reverse() : shuffle(docs, s.rng);
}

/**
 * The todo step: first the cached candidates (while young), then the reads of todoReads. A
 * claimer starts at a random window, so concurrent claimers start on different tokens.
 */
async function tryTodo(
  picas: PicasDb,
  type: string,
  s: Settings,
  seen: SeenUnclaimable,
): Promise<PageResult> {
  // Without the caller's cache, one for this claim: the same reads, nothing kept.
  const cache = s.cache ?? newCandidateCache();
  let contended = false;
  if (cache.docs.length > 0 && s.clock() - cache.readAt <= s.cacheMaxAgeMs) {
    const cached = await tryCandidates(picas, cache.docs, false, s, seen, true);
    if (cached.claimed) return cached;
    contended = cached.contended;
    if (cached.raced) {
      // Someone else claims here too: drop the rest of the page (cursor too), step aside a moment.
      cache.cursor = undefined;
      await pauseAfterRace(s, cache.pageRows ?? s.pageSize);
    }
  }
  cache.docs = [];
  const view = await todoView(picas, type, s, cache);
  if (!view.spread && cache.totalRows === 0) {
    // Random skip windows need the view's size: learned from the up-to-date index (limit 0), which
    // all pilots starting together wait for together, or they would all take the top page.
    cache.totalRows = (await readView(picas, view, { limit: 0 }, s.signal)).totalRows;
  }
  const reads = todoReads(cache, view, s);
  for (let i = 0; i < reads.length; i++) {
    const read = reads[i]!;
    const last = i === reads.length - 1;
    const page = await readTodoPage(picas, view, read, s.signal);
    // The last read is of the up-to-date index: empty means nothing is left to claim, whatever
    // the reads before it showed (no backoff then: the caller is done).
    if (last && page.rows.length === 0) contended = false;
    cache.totalRows = page.totalRows;
    cache.readAt = s.clock();
    // A spread page is not walked on: past its end is where the claimers its gap sends on start.
    cache.cursor = view.spread ? undefined : page.end;
    const rows = read.after ? page.rows.filter((r) => r.id !== read.after!.id) : page.rows;
    cache.docs = tryOrder(rows, read, view, s);
    cache.pageRows = cache.docs.filter(isClaimable).length;
    // Another claimer is on this page: leave the rest of it to that one, look elsewhere.
    const fresh = await tryCandidates(picas, cache.docs, false, s, seen, !last);
    contended ||= fresh.contended;
    if (fresh.claimed) return fresh;
    if (fresh.raced) {
      // Walking behind another claimer only finds what it left: start somewhere else instead.
      cache.cursor = undefined;
      if (!last) await pauseAfterRace(s, cache.pageRows);
    }
    // A view (nearly) drained: other windows of it show nothing new, only the up-to-date one can.
    if (!last && (page.rows.length === 0 || page.totalRows <= s.pageSize)) i = reads.length - 2;
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
    view: o.view,
    pageSize,
    reclaimExpired: o.reclaimExpired ?? true,
    rng: o.rng ?? Math.random,
    clock: o.clock ?? Date.now,
    newLeaseId: o.newLeaseId ?? randomUUID,
    backoffBaseMs: o.backoffBaseMs ?? 50,
    backoffMaxMs: o.backoffMaxMs ?? 2000,
    signal: o.signal,
    emit: o.onEvent ?? (() => {}),
    cache: o.cache,
    cacheMaxAgeMs: o.cacheMaxAgeMs ?? 2000,
    racePauseMs: o.racePauseMs ?? 3000,
    writeMs: o.cache?.writeMs,
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
    const ms = backoffDelay(++round, { baseMs: s.backoffBaseMs, maxMs: s.backoffMaxMs }, s.rng);
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
