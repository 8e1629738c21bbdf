import { LrtError } from '../../core';
import { couchError, gotNoReply, type PicasDb, statusOf } from '../client';
import { clusterRules } from '../cluster';
import { couchCall, docPath } from '../couchHttp';
import { type StoredToken, type TokenDoc, tokenFromDoc, tokenToDoc } from '../tokenDoc';
import { fence, type LeaseLost, leaseOf, type Patched, type Skipped } from './leaseRecord';
import { writeDoc } from './quorumWrite';
import { settleWrite } from './settleWrite';

/**
 * Every write after the claim goes through a fence: read the token, stop when its lease is not
 * ours (reset or reclaimed: the pilot must stop and write nothing), PUT with the `_rev` read,
 * and on 409 read again and re-apply (docs/protocol.md, Fenced update).
 */

export type FencedPatch = (doc: TokenDoc) => Patched | LeaseLost | Skipped;

export interface FencedOptions {
  /** Re-reads after a 409 before giving up with E_CONFLICT (default 20). */
  retries?: number;
  /**
   * The token as last seen (e.g. what claimToken returned): saves the first GET. A stale copy
   * costs one 409 and a re-read, never a wrong write: its `_rev` guards the PUT.
   */
  current?: TokenDoc;
  signal?: AbortSignal;
}

export type FencedResult =
  /** The token as written, with its new `_rev`; `conflicts` counts the 409s retried. */
  { doc: TokenDoc; conflicts: number } | { skipped: string; conflicts: number };

const DEFAULT_RETRIES = 20;

export function leaseLostError(id: string, leaseId: string, holder: string | undefined, deleted = false) {
  const how = deleted ? 'none (the token was deleted)' : (holder ?? 'none');
  return new LrtError('E_LEASE_LOST', `token ${id} was taken away: lease ${leaseId} replaced by ${how}`, {
    details: { token: id, lease: leaseId, holder: holder ?? null },
  });
}

/** The fence's verdict as the error the callers handle (E_LEASE_LOST: stop, write nothing). */
function lostError(id: string, leaseId: string, lost: LeaseLost): LrtError {
  if (lost.takenOverBy === undefined) return leaseLostError(id, leaseId, lost.holder);
  return new LrtError(
    'E_LEASE_LOST',
    `token ${id} taken over by another tool (lock changed by ${lost.takenOverBy})`,
    { details: { token: id, lease: leaseId, holder: lost.holder ?? null, takenOverBy: lost.takenOverBy } },
  );
}

/**
 * The token, or a lease-lost error when it was deleted. On a cluster the read lists conflicting
 * leaves; a token in conflict is settled first (settleWrite.ts): the branch holding our lease wins
 * (the others are deleted) or loses (our leaves are deleted and the fence below reports the loss).
 */
async function readToken(
  picas: PicasDb,
  id: string,
  leaseId: string,
  cluster: boolean,
  signal: AbortSignal | undefined,
): Promise<TokenDoc> {
  let doc: TokenDoc;
  try {
    // The signal reaches the read too: a renewal abandoned on a hung server frees its connection.
    const qs = cluster ? { conflicts: true } : {};
    doc = tokenFromDoc(
      (await couchCall<StoredToken>(picas, { method: 'GET', path: docPath(id), qs, signal })).body,
    );
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    if (statusOf(err) === 404) throw leaseLostError(id, leaseId, undefined, true);
    throw couchError(picas, `read token ${id}`, err);
  }
  if (!doc._conflicts?.length) return doc;
  const settled = await settleWrite(picas, id, (leaf) => leaseOf(leaf)?.id === leaseId);
  if (settled.fate === 'won') return settled.doc;
  if (!settled.winner) throw leaseLostError(id, leaseId, undefined, true);
  return settled.winner;
}

function exhausted(id: string, what: string, tries: number): LrtError {
  return new LrtError(
    'E_CONFLICT',
    `token ${id}: ${what} still conflicted after ${tries} tries (HTTP 409): others write it too often`,
    { details: { token: id } },
  );
}

/** Apply `patch` to token `id` under lease `leaseId`. Throws E_LEASE_LOST when it is not ours. */
export async function fencedUpdate(
  picas: PicasDb,
  id: string,
  leaseId: string,
  patch: FencedPatch,
  options: FencedOptions = {},
): Promise<FencedResult> {
  const retries = options.retries ?? DEFAULT_RETRIES;
  const rules = await clusterRules(picas);
  // On a cluster CouchDB takes a write on ANY leaf: a cached copy may be a losing branch that a
  // write would silently extend. Read the winner every time there.
  let known = rules.on ? undefined : options.current;
  for (let conflicts = 0; ; conflicts++) {
    options.signal?.throwIfAborted();
    const doc = known ?? (await readToken(picas, id, leaseId, rules.on, options.signal));
    known = undefined;
    // Checked here too, so no patch function can write over someone else's lease or take-over.
    const ours = fence(doc, leaseId);
    if ('lost' in ours) throw lostError(id, leaseId, ours);
    const result = patch(doc);
    if ('lost' in result) throw lostError(id, leaseId, result);
    if ('skip' in result) return { skipped: result.skip, conflicts };
    const next: TokenDoc = { ...result.doc, _id: doc._id, _rev: doc._rev };
    try {
      const written = await writeDoc(picas, tokenToDoc(next), options.signal);
      if (!rules.on) return { doc: { ...next, _rev: written.rev }, conflicts };
      // It counts only on the one live branch; else apply it again on the winner.
      const settled = await settleWrite(picas, id, written.rev, { spread: written.uncertain });
      if (settled.fate === 'won') return { doc: settled.doc, conflicts };
    } catch (err) {
      const status = statusOf(err);
      if (gotNoReply(err) && !options.signal?.aborted) {
        // No reply: if the write landed, the token now reads as what we sent (a finish has dropped
        // our lease, so trying again would wrongly report the token as taken away).
        const landed = await landedWrite(picas, id, next, rules.on);
        if (landed) return { doc: landed, conflicts };
      }
      if (status !== 409) throw couchError(picas, `update token ${id}`, err);
    }
    if (conflicts >= retries) throw exhausted(id, 'update', conflicts + 1);
  }
}

/** Document content without `_rev` and `_attachments` (stored as stubs), keys sorted. */
function contentOf(doc: TokenDoc): string {
  const { _rev, _attachments, ...rest } = tokenToDoc(doc);
  return JSON.stringify(rest, (_key, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
}

/**
 * After a write whose reply never came: the token when it holds what we sent (a newer revision).
 * On a cluster the write may also sit on a losing leaf: settled like a 202.
 */
async function landedWrite(
  picas: PicasDb,
  id: string,
  sent: TokenDoc,
  cluster: boolean,
): Promise<TokenDoc | undefined> {
  const isSent = (leaf: TokenDoc) => leaf._rev !== sent._rev && contentOf(leaf) === contentOf(sent);
  try {
    if (cluster) {
      const settled = await settleWrite(picas, id, isSent);
      return settled.fate === 'won' ? settled.doc : undefined;
    }
    const current = tokenFromDoc(await picas.db.get(id));
    return isSent(current) ? current : undefined;
  } catch {
    return undefined;
  }
}
