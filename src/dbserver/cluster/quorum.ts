/*
 * How a coordinator turns the replicas' answers into one, after CouchDB 2.x/3.x fabric_doc_update
 * and chttpd_db (see docs/cluster-standin.md):
 * - a document meets its write quorum with w identical `ok` answers (same revision);
 * - one `ok` or more, but fewer than w, is `accepted` (HTTP 202): the revision exists on some
 *   replica and internal replication will spread it, whatever the other replicas said (since
 *   cloudant/fabric#61, [ok, conflict, conflict] is accepted, not a conflict);
 * - no `ok` at all gives the replicas' error; when they disagree on it, fabric marks the whole
 *   request as failed (HTTP 500 for _bulk_docs).
 */

export type Verdict = 'quorum' | 'accepted' | 'failed' | 'failed-differently';

export interface Outcome<Reply> {
  verdict: Verdict;
  /** The answer to pass on: an accepting replica's, or the most common error. */
  reply: Reply;
}

export interface ReplyKind<Reply> {
  /** The new revision when the replica accepted the write, else undefined. */
  acceptedRev(reply: Reply): string | undefined;
  /** What makes two errors the same error. */
  errorKey(reply: Reply): string;
}

export function quorumOutcome<Reply>(replies: Reply[], w: number, kind: ReplyKind<Reply>): Outcome<Reply> {
  const accepted = largestGroup(
    replies.filter((reply) => kind.acceptedRev(reply) !== undefined),
    (reply) => String(kind.acceptedRev(reply)),
  );
  if (accepted.length >= w) return { verdict: 'quorum', reply: accepted[0]! };
  if (accepted.length > 0) return { verdict: 'accepted', reply: accepted[0]! };
  const errors = largestGroup(replies, kind.errorKey);
  const allSame = errors.length === replies.length;
  return { verdict: allSame ? 'failed' : 'failed-differently', reply: errors[0]! };
}

export function quorumMet<Reply>(replies: Reply[], w: number, kind: ReplyKind<Reply>): boolean {
  return quorumOutcome(replies, w, kind).verdict === 'quorum';
}

/** Write quorum when the request names none: a majority of the n replicas, as CouchDB. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** `?w=` / `?r=` as a whole number >= 1, else the default. */
export function quorumParameter(value: string | null | undefined, fallback: number): number {
  const parsed = Number(value);
  return value && Number.isInteger(parsed) && parsed >= 1 ? parsed : fallback;
}

/** The largest set of items sharing a key; the first one seen wins a tie. */
function largestGroup<Item>(items: Item[], keyOf: (item: Item) => string): Item[] {
  const groups = new Map<string, Item[]>();
  for (const item of items) {
    const key = keyOf(item);
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  let largest: Item[] = [];
  for (const group of groups.values()) if (group.length > largest.length) largest = group;
  return largest;
}
