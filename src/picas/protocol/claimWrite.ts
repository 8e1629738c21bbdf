import { couchError, type PicasDb, statusOf, type TokenDoc } from '../client';
import { leaseOf } from './leaseRecord';

/* The write side of the claim (claim.ts): the guarded PUT and the replica-conflict check. */

/** PUT with the `_rev` read: the new rev, or undefined when someone else got there first. */
export async function put(picas: PicasDb, doc: TokenDoc, leaseId: string): Promise<string | undefined> {
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
