import { setTimeout as sleep } from 'node:timers/promises';
import { LrtError } from '../../core/errors';
import { mapWithConcurrency } from '../../core/pool';
import { type RevisionHistory, revisionPath, winnerFirst } from '../../core/revisions';
import { couchError, type PicasDb, statusOf } from '../client';
import { clusterRules, readQuorum, writeQuorum } from '../cluster';
import { couchCall, docPath } from '../couchHttp';
import { type StoredToken, type TokenDoc, tokenFromDoc } from '../tokenDoc';
import { type BulkRow, deleteLeaf, type Written, writeBulk, writeDoc } from './quorumWrite';

/*
 * Settling a write on a cluster (docs/protocol.md, Cluster rules). A write counts only once it is
 * on the one live branch of the token: a 201 with `w=n` has no rival sibling, but the revision it
 * was based on may itself be a losing leaf of a conflict that two 202s left, and a longer branch
 * wins over a shorter one whoever wrote first. So every write is checked:
 * 1. A write some replicas may lack (a 202, or one whose reply never came) is first put on every
 *    replica (`_bulk_docs?new_edits=false&w=n`, as replication does): a replica that had not yet
 *    received the revision the write was based on would otherwise take a rival's write on that base
 *    later, after we had decided.
 * 2. Every leaf is read from every replica (`open_revs=all&r=n`: CouchDB merges the replicas'
 *    revision trees; `conflicts=true` would show one replica's conflicts only), and the winner is
 *    the one CouchDB picks by its own rule, so every writer decides on the same order:
 *    - our revision is not in the winning branch: every live leaf that holds it (ours, or one
 *      someone built on it) is deleted, and the write did not happen (the caller re-reads the
 *      winner and applies its change again; a surviving branch holding it could otherwise still
 *      grow past the winner and bring the change back a second time);
 *    - it is, and no other live leaf is left: the write counts;
 *    - it is, beside other live leaves: those are deleted (the conflict heals even when their
 *      writers are gone) and the leaves are read again, since a rival leaf may have grown into a
 *      longer branch before its deletion reached every replica.
 */

export type WriteFate =
  /** The write is part of the winning branch; `doc` is the winner as read now (a deletion's: its tombstone). */
  | { fate: 'won'; doc: TokenDoc }
  /** It is not: `winner` is what the token is now (absent when deleted or missing). */
  | { fate: 'lost'; winner: TokenDoc | undefined };

/** Which write to look for: its revision, or (no reply came) a test on the live leaf's content. */
export type OwnWrite = string | ((leaf: TokenDoc) => boolean);

type LeafDoc = StoredToken & { _revisions?: RevisionHistory };

interface Leaf {
  rev: string;
  deleted: boolean;
  /** The leaf and its ancestors, newest first. */
  path: string[];
  doc: LeafDoc;
}

/** Every leaf of token `id` on every replica, the winner first (empty: no such token). */
export async function readLeaves(picas: PicasDb, id: string): Promise<Leaf[]> {
  const rules = await clusterRules(picas);
  try {
    const reply = await couchCall<Array<{ ok?: LeafDoc }>>(picas, {
      method: 'GET',
      path: docPath(id),
      qs: { open_revs: 'all', revs: true, ...readQuorum(rules) },
    });
    const found = (Array.isArray(reply.body) ? reply.body : []).flatMap((entry) =>
      entry.ok ? [entry.ok] : [],
    );
    return found
      .map((doc) => ({
        rev: doc._rev!,
        deleted: doc._deleted === true,
        path: revisionPath(doc._revisions),
        doc,
      }))
      .sort(winnerFirst);
  } catch (err) {
    if (statusOf(err) === 404) return [];
    throw couchError(picas, `read the leaves of token ${id} to settle a write`, err);
  }
}

/**
 * The leaf that holds our write: one that descends from our revision (a deletion's is a deleted
 * leaf), or a live one whose content is ours.
 */
function ownLeaf(leaves: Leaf[], own: OwnWrite): Leaf | undefined {
  if (typeof own === 'string') return leaves.find((leaf) => leaf.path.includes(own));
  return leaves.find((leaf) => !leaf.deleted && own(withoutTree(leaf.doc)));
}

/** The leaf as a token, without what open_revs adds (`_revisions`, `_deleted`). */
function withoutTree(doc: LeafDoc): TokenDoc {
  const { _revisions, _deleted, ...body } = doc;
  return tokenFromDoc(body);
}

const SPREAD_TRIES = 3;
const SPREAD_RETRY_MS = 200;

/**
 * Put revision `rev` of token `id` (with its history and attachment bodies) on every replica.
 * False when some replica still did not confirm it after a few tries (one that is down: the
 * settlement then goes by what the others hold, see docs/protocol.md).
 */
async function spreadRevision(picas: PicasDb, id: string, rev: string): Promise<boolean> {
  const rules = await clusterRules(picas);
  let doc: LeafDoc;
  try {
    const reply = await couchCall<LeafDoc>(picas, {
      method: 'GET',
      path: docPath(id),
      // Every replica is asked: the one that answered our write may be the only one holding it.
      qs: { rev, revs: true, attachments: true, ...readQuorum(rules) },
    });
    doc = reply.body;
  } catch (err) {
    throw couchError(picas, `read revision ${rev} of token ${id} to settle a write`, err);
  }
  for (let tries = 1; ; tries++) {
    const reply = await couchCall<unknown>(picas, {
      method: 'POST',
      path: ['_bulk_docs'],
      qs: writeQuorum(rules),
      body: { docs: [doc], new_edits: false },
    }).catch((err: unknown) => {
      throw couchError(picas, `put revision ${rev} of token ${id} on every replica`, err);
    });
    if (reply.status !== 202) return true;
    if (tries >= SPREAD_TRIES) return false;
    await sleep(SPREAD_RETRY_MS);
  }
}

const SETTLE_ROUNDS = 10;
/** Rows of one `_bulk_docs` settled at once: each costs reads of every replica. */
const SETTLE_CONCURRENCY = 8;

export interface SettleOptions {
  /** Put our revision on every replica first (default): not needed after a 201 with `w=n`. */
  spread?: boolean;
}

/** Settle one write of token `id` (see the file comment). */
export async function settleWrite(
  picas: PicasDb,
  id: string,
  own: OwnWrite,
  options: SettleOptions = {},
): Promise<WriteFate> {
  let leaves = await readLeaves(picas, id);
  const mine = ownLeaf(leaves, own);
  if (!mine) return { fate: 'lost', winner: liveWinner(leaves) };
  if (options.spread !== false) {
    await spreadRevision(picas, id, mine.rev);
    leaves = await readLeaves(picas, id);
  }
  const ownRev = typeof own === 'string' ? own : mine.rev;
  for (let round = 1; ; round++) {
    const winner = leaves[0];
    if (!winner) return { fate: 'lost', winner: undefined };
    const current = liveWinner(leaves);
    // Lost: our write is out of the winning branch. A live leaf that still holds it (ours, or one
    // someone built on it) could grow past the winner and bring our change back after the caller
    // applied it again: deleted too, so that the loss is final.
    // Won: the other live leaves are deleted, so that nobody can grow them past ours.
    const ours = winner.path.includes(ownRev);
    const toDelete = leaves.filter(
      (leaf) => !leaf.deleted && leaf !== winner && (ours || leaf.path.includes(ownRev)),
    );
    if (toDelete.length === 0) {
      // A deletion that won: the winner is our deleted leaf (live leaves would win over it).
      return ours
        ? { fate: 'won', doc: current ?? withoutTree(winner.doc) }
        : { fate: 'lost', winner: current };
    }
    if (round >= SETTLE_ROUNDS) throw unsettled(id, toDelete.length);
    for (const leaf of toDelete) await deleteLeaf(picas, id, leaf.rev);
    leaves = await readLeaves(picas, id);
  }
}

/** The token as CouchDB answers it: its winning leaf, unless that is deleted. */
function liveWinner(leaves: Leaf[]): TokenDoc | undefined {
  const winner = leaves[0];
  return winner && !winner.deleted ? withoutTree(winner.doc) : undefined;
}

function unsettled(id: string, rivals: number): LrtError {
  return new LrtError(
    'E_CONFLICT',
    `token ${id}: ${rivals} conflicting revision(s) still beside ours after ${SETTLE_ROUNDS} rounds of settling`,
    { details: { token: id } },
  );
}

/**
 * A write that was answered: on a cluster, settle it (a 201 is not spread, a 202 is). The new
 * revision; a write that lost to a rival rejects like the 409 it amounts to (lostToRival), so the
 * callers' read-and-retry on 409 applies the change again on the winner.
 */
export async function settled(picas: PicasDb, id: string, written: Written): Promise<string> {
  if (!(await clusterRules(picas)).on) return written.rev;
  const outcome = await settleWrite(picas, id, written.rev, { spread: written.uncertain });
  if (outcome.fate !== 'won') throw lostToRival(id);
  return outcome.doc._rev!;
}

/**
 * PUT `doc` with the `_rev` it carries and settle it (see `settled`); a new document answered 201
 * had no branch to lose to. Errors reject as usual.
 */
export async function writeSettled(
  picas: PicasDb,
  doc: StoredToken | Record<string, unknown>,
): Promise<string> {
  const written = await writeDoc(picas, doc);
  if (doc._rev === undefined && !written.uncertain) return written.rev;
  return settled(picas, String(doc._id), written);
}

/** A write that lost its settlement, shaped like the 409 it amounts to (statusOf / couchError). */
export function lostToRival(id: string): Error {
  return Object.assign(new Error(`a rival write to ${id} won on another replica`), { statusCode: 409 });
}

/**
 * `_bulk_docs` with each doc's `_rev`, settled: on a cluster every written row is settled (spread
 * first when the answer was a 202: some doc was taken by fewer than `w` replicas), and one that
 * lost to a rival write comes back as a conflict row (to be re-read and tried again like a 409).
 * A new document answered 201 needs nothing: no branch existed for it to lose to.
 */
export async function writeBulkSettled(
  picas: PicasDb,
  docs: Array<StoredToken | Record<string, unknown>>,
): Promise<BulkRow[]> {
  const { rows, uncertain, rules } = await writeBulk(picas, docs);
  if (!rules.on) return rows;
  return mapWithConcurrency(rows, SETTLE_CONCURRENCY, async (row, i) => {
    if (row.error || !row.id || !row.rev) return row;
    if (!uncertain && docs[i]?._rev === undefined) return row;
    const outcome = await settleWrite(picas, row.id, row.rev, { spread: uncertain });
    if (outcome.fate === 'won') return row;
    // The caller re-reads it through a view: wait until a single copy shows the winner, or a
    // copy still holding our (deleted) revision would hide the token from that view.
    await untilOneCopyShows(picas, row.id, outcome.winner?._rev);
    return { id: row.id, error: 'conflict', reason: 'lost to a rival write on another replica' };
  });
}

const CONVERGE_WAIT_MS = 3000;
const CONVERGE_POLL_MS = 50;

/** Polls one copy (`r=1`) of token `id` until it holds revision `rev` (undefined: gone); bounded. */
async function untilOneCopyShows(picas: PicasDb, id: string, rev: string | undefined): Promise<void> {
  const deadline = Date.now() + CONVERGE_WAIT_MS;
  while (Date.now() < deadline) {
    const current = await couchCall<StoredToken>(picas, {
      method: 'GET',
      path: docPath(id),
      qs: { r: 1 },
    }).then(
      (reply) => reply.body._rev,
      (err: unknown) => {
        if (statusOf(err) === 404) return undefined;
        throw couchError(picas, `read token ${id}`, err);
      },
    );
    if (current === rev) return;
    await sleep(CONVERGE_POLL_MS);
  }
}
