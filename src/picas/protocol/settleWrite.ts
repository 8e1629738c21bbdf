import { couchError, type PicasDb, statusOf, type TokenDoc } from '../client';
import { clusterRules, readQuorum } from '../cluster';
import { couchCall, docPath } from '../couchHttp';
import { type BulkRow, deleteLeaf, type Written, writeBulk, writeDoc } from './quorumWrite';

/*
 * Settling a write whose outcome is uncertain (docs/protocol.md, Cluster rules): a 202 (taken by
 * fewer than `w` replicas) or a write whose reply never came. Every replica is read (`r=n`) with
 * the conflicting leaves; CouchDB's winning revision is the same on every node once they have
 * converged, so all writers that raced settle on the same winner:
 * - our revision is the winner (or an ancestor of it): the write counts; the losing leaves beside
 *   it are deleted, so the conflict heals even when their writers are gone;
 * - our revision is a losing leaf: it is deleted and the write did not happen (the caller may
 *   re-read the winner and apply its change again);
 * - our revision is nowhere: the write did not happen.
 */

export type WriteFate =
  /** The write is part of the winning branch; `doc` is the winner as read now. */
  | { fate: 'won'; doc: TokenDoc }
  /** It is not: `winner` is what the token is now (absent when deleted or missing). */
  | { fate: 'lost'; winner: TokenDoc | undefined };

type Settled = TokenDoc & { _conflicts?: string[]; _revisions?: { start: number; ids: string[] } };

/** Which write to look for: its revision, or (no reply came) a test on the leaf's content. */
export type OwnWrite = string | ((leaf: TokenDoc) => boolean);

/** The token with its conflicting leaves, read from every replica. */
export async function readSettled(picas: PicasDb, id: string): Promise<Settled | undefined> {
  const rules = await clusterRules(picas);
  try {
    const reply = await couchCall<Settled>(picas, {
      method: 'GET',
      path: docPath(id),
      qs: { conflicts: true, ...readQuorum(rules) },
    });
    return reply.body;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw couchError(picas, `read token ${id} to settle a write`, err);
  }
}

async function readLeaf(
  picas: PicasDb,
  id: string,
  rev: string,
  qs: { revs?: boolean } = {},
): Promise<Settled | undefined> {
  try {
    return (await couchCall<Settled>(picas, { method: 'GET', path: docPath(id), qs: { rev, ...qs } })).body;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw couchError(picas, `read revision ${rev} of token ${id}`, err);
  }
}

/** True when `rev` is the winner or one of its ancestors (the winner's history is read for that). */
async function inWinningBranch(picas: PicasDb, winner: Settled, rev: string): Promise<boolean> {
  if (winner._rev === rev) return true;
  const history = (await readLeaf(picas, winner._id, winner._rev!, { revs: true }))?._revisions;
  const dash = rev.indexOf('-');
  const pos = Number(rev.slice(0, dash));
  if (!history || !Number.isInteger(pos)) return false;
  return history.ids[history.start - pos] === rev.slice(dash + 1);
}

/** Our revision among the losing leaves (by revision, or by content when no reply came). */
async function ownLosingLeaf(picas: PicasDb, id: string, conflicts: string[], own: OwnWrite) {
  if (typeof own === 'string') return conflicts.includes(own) ? own : undefined;
  for (const rev of conflicts) {
    const leaf = await readLeaf(picas, id, rev);
    if (leaf && own(leaf)) return rev;
  }
  return undefined;
}

/** Settle one write of token `id` (see the file comment). */
export async function settleWrite(picas: PicasDb, id: string, own: OwnWrite): Promise<WriteFate> {
  const winner = await readSettled(picas, id);
  if (!winner) return { fate: 'lost', winner: undefined };
  const conflicts = winner._conflicts ?? [];
  const { _conflicts, _revisions, ...doc } = winner;
  const ours =
    typeof own === 'string'
      ? conflicts.includes(own)
        ? false
        : await inWinningBranch(picas, winner, own)
      : own(doc as TokenDoc);
  if (ours) {
    for (const rev of conflicts) await deleteLeaf(picas, id, rev);
    return { fate: 'won', doc: doc as TokenDoc };
  }
  const losing = await ownLosingLeaf(picas, id, conflicts, own);
  if (losing) await deleteLeaf(picas, id, losing);
  return { fate: 'lost', winner: doc as TokenDoc };
}

/**
 * A write that was answered: when only some replicas took it, settle it. The new revision; a
 * write that lost to a rival rejects like the 409 it amounts to (lostToRival), so the callers'
 * read-and-retry on 409 applies the change again on the winner.
 */
export async function settled(picas: PicasDb, id: string, written: Written): Promise<string> {
  if (!written.uncertain) return written.rev;
  const outcome = await settleWrite(picas, id, written.rev);
  if (outcome.fate !== 'won') throw lostToRival(id);
  return outcome.doc._rev!;
}

/** PUT `doc` with the `_rev` it carries and settle it (see `settled`). Errors reject as usual. */
export async function writeSettled(picas: PicasDb, doc: TokenDoc | Record<string, unknown>): Promise<string> {
  return settled(picas, doc._id as string, await writeDoc(picas, doc));
}

/** A write that lost its settlement, shaped like the 409 it amounts to (statusOf / couchError). */
export function lostToRival(id: string): Error {
  return Object.assign(new Error(`a rival write to ${id} won on another replica`), { statusCode: 409 });
}

/**
 * `_bulk_docs` with each doc's `_rev`, settled: on a cluster a 202 means some doc was taken by
 * fewer than `w` replicas, so every written row is settled, and one that lost to a rival write
 * comes back as a conflict row (to be re-read and tried again like a 409).
 */
export async function writeBulkSettled(
  picas: PicasDb,
  docs: Array<TokenDoc | Record<string, unknown>>,
): Promise<BulkRow[]> {
  const { rows, uncertain } = await writeBulk(picas, docs);
  if (!uncertain) return rows;
  return Promise.all(
    rows.map(async (row) => {
      if (row.error || !row.id || !row.rev) return row;
      const outcome = await settleWrite(picas, row.id, row.rev);
      if (outcome.fate === 'won') return row;
      // The caller re-reads it through a view: wait until a single copy shows the winner, or a
      // copy still holding our (deleted) revision would hide the token from that view.
      await untilOneCopyShows(picas, row.id, outcome.winner?._rev);
      return { id: row.id, error: 'conflict', reason: 'lost to a rival write on another replica' };
    }),
  );
}

const CONVERGE_WAIT_MS = 3000;
const CONVERGE_POLL_MS = 50;

/** Polls one copy (`r=1`) of token `id` until it holds revision `rev` (undefined: gone); bounded. */
async function untilOneCopyShows(picas: PicasDb, id: string, rev: string | undefined): Promise<void> {
  const deadline = Date.now() + CONVERGE_WAIT_MS;
  while (Date.now() < deadline) {
    const current = await couchCall<TokenDoc>(picas, { method: 'GET', path: docPath(id), qs: { r: 1 } }).then(
      (reply) => reply.body._rev,
      (err: unknown) => {
        if (statusOf(err) === 404) return undefined;
        throw couchError(picas, `read token ${id}`, err);
      },
    );
    if (current === rev) return;
    await new Promise((done) => setTimeout(done, CONVERGE_POLL_MS));
  }
}
