import { LrtError } from '../../core';
import { couchError, type PicasDb, statusOf, type TokenDoc } from '../client';
import { type LeaseLost, leaseOf, type Patched, type Skipped } from './leaseRecord';

/**
 * Every write after the claim goes through a fence: read the token, stop when its lease is not
 * ours (reset or reclaimed: the pilot must stop and write nothing), PUT with the `_rev` read,
 * and on 409 read again and re-apply. The patch functions come from ./lease.
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

/** The token, or a lease-lost error when it was deleted. */
async function readToken(picas: PicasDb, id: string, leaseId: string): Promise<TokenDoc> {
  try {
    return await picas.db.get(id);
  } catch (err) {
    if (statusOf(err) === 404) throw leaseLostError(id, leaseId, undefined, true);
    throw couchError(picas, `read token ${id}`, err);
  }
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
  let known = options.current;
  for (let conflicts = 0; ; conflicts++) {
    options.signal?.throwIfAborted();
    const doc = known ?? (await readToken(picas, id, leaseId));
    known = undefined;
    const holder = leaseOf(doc)?.id;
    // Checked here too, so no patch function can write over someone else's lease.
    if (holder !== leaseId) throw leaseLostError(id, leaseId, holder);
    const result = patch(doc);
    if ('lost' in result) throw leaseLostError(id, leaseId, result.holder);
    if ('skip' in result) return { skipped: result.skip, conflicts };
    const next: TokenDoc = { ...result.doc, _id: doc._id, _rev: doc._rev };
    try {
      const written = await picas.db.insert(next);
      return { doc: { ...next, _rev: written.rev }, conflicts };
    } catch (err) {
      const status = statusOf(err);
      if (status === undefined) {
        // No reply: if the write landed, the token now reads as what we sent (a finish has dropped
        // our lease, so trying again would wrongly report the token as taken away).
        const landed = await landedWrite(picas, id, next);
        if (landed) return { doc: landed, conflicts };
      }
      if (status !== 409) throw couchError(picas, `update token ${id}`, err);
      if (conflicts >= retries) throw exhausted(id, 'update', conflicts + 1);
    }
  }
}

/** Document content without `_rev` and `_attachments` (stored as stubs), keys sorted. */
function contentOf(doc: TokenDoc): string {
  const { _rev, _attachments, ...rest } = doc;
  return JSON.stringify(rest, (_key, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
}

/** After a write whose reply never came: the token when it holds what we sent (a newer revision). */
async function landedWrite(picas: PicasDb, id: string, sent: TokenDoc): Promise<TokenDoc | undefined> {
  try {
    const current = await picas.db.get(id);
    return current._rev !== sent._rev && contentOf(current) === contentOf(sent) ? current : undefined;
  } catch {
    return undefined;
  }
}

/** pouchdb-server answers an attachment PUT as text/plain, so nano hands back the JSON unparsed. */
function revOf(response: unknown): string {
  let body = response;
  if (typeof response === 'string') {
    try {
      body = JSON.parse(response);
    } catch {
      body = undefined;
    }
  }
  return String((body as { rev?: unknown } | undefined)?.rev ?? '');
}

/** CouchDB takes `/` inside attachment names literally; each segment is escaped on its own. */
function attachmentPath(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

/**
 * Attach `bytes` as `name` to token `id` under lease `leaseId`: the lease is checked on the
 * fresh document and the attachment PUT carries that document's `_rev`, so a token taken away
 * in between answers 409 and the next read finds the lease gone.
 */
export async function fencedAttach(
  picas: PicasDb,
  id: string,
  leaseId: string,
  name: string,
  bytes: Uint8Array | string,
  contentType: string,
  options: FencedOptions = {},
): Promise<{ rev: string; conflicts: number }> {
  const retries = options.retries ?? DEFAULT_RETRIES;
  const body = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes);
  let known = options.current;
  for (let conflicts = 0; ; conflicts++) {
    options.signal?.throwIfAborted();
    const doc = known ?? (await readToken(picas, id, leaseId));
    known = undefined;
    const holder = leaseOf(doc)?.id;
    if (holder !== leaseId) throw leaseLostError(id, leaseId, holder);
    try {
      const written = await picas.db.attachment.insert(id, attachmentPath(name), body, contentType, {
        rev: doc._rev,
      });
      return { rev: revOf(written), conflicts };
    } catch (err) {
      if (statusOf(err) !== 409) throw couchError(picas, `attach ${name} to token ${id}`, err);
      if (conflicts >= retries) throw exhausted(id, `attaching ${name}`, conflicts + 1);
    }
  }
}
