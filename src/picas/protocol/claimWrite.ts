import { couchError, gotNoReply, type PicasDb, statusOf } from '../client';
import { clusterRules } from '../cluster';
import { type TokenDoc, tokenToDoc } from '../tokenDoc';
import { leaseOf } from './leaseRecord';
import { writeDoc } from './quorumWrite';
import { settleWrite } from './settleWrite';

/*
 * The guarded write of a claim (docs/protocol.md, Claim), shared by the view claim, the reclaim
 * and `pilot --token ID`: PUT with the `_rev` read. On a cluster the PUT asks every replica
 * (`w=n`) and the claim is settled before it counts (a 202 or a lost reply spread first), so the
 * payload never starts on a claim that another pilot also holds or that sits on a losing branch.
 */

export interface ClaimWrite {
  /** The claimed token's new `_rev`; undefined when another writer got there first. */
  rev: string | undefined;
  /** The claim had to be settled (a 202 or a lost reply on a cluster). */
  settled: boolean;
}

export async function writeClaim(
  picas: PicasDb,
  doc: TokenDoc,
  leaseId: string,
  signal?: AbortSignal,
): Promise<ClaimWrite> {
  const holdsOurLease = (leaf: TokenDoc) => leaseOf(leaf)?.id === leaseId;
  try {
    const written = await writeDoc(picas, tokenToDoc(doc), signal);
    if (!(await clusterRules(picas)).on) return { rev: written.rev, settled: false };
    const outcome = await settleWrite(picas, doc._id, written.rev, { spread: written.uncertain });
    // A claim is kept while the winner still holds our lease; a write that sends the token to error
    // (a reclaim past --max-attempts) carries no lease.
    const kept = outcome.fate === 'won' && (!holdsOurLease(doc) || holdsOurLease(outcome.doc));
    return { rev: kept ? outcome.doc._rev : undefined, settled: written.uncertain };
  } catch (err) {
    const status = statusOf(err);
    if (status === 409 || status === 404) return { rev: undefined, settled: false };
    const failure = couchError(picas, `claim token ${doc._id}`, err);
    // No reply at all: the claim may have been written. If it was, the token is ours; else it would
    // sit locked under a lease nobody holds until that lease expires.
    if (gotNoReply(err) && !signal?.aborted) {
      try {
        const outcome = await settleWrite(picas, doc._id, holdsOurLease);
        if (outcome.fate === 'won') return { rev: outcome.doc._rev, settled: true };
      } catch {
        // Still unreachable: report the first failure.
      }
    }
    throw failure;
  }
}
