/*
 * CouchDB revision ids (`N-hash`) and the rule by which every CouchDB node picks the same winner
 * among a document's leaves (docs/couchdb-rules.md): a live leaf before a deleted one, then the
 * longest history (greatest N), then the greatest hash. Pure: used by the settling of cluster
 * writes and by the cluster stand-in.
 */

export interface RevisionLeaf {
  rev: string;
  deleted: boolean;
}

/** A document's `_revisions` (`revs=true`): newest first, `start` is the newest position. */
export interface RevisionHistory {
  start: number;
  ids: string[];
}

export function parseRev(rev: string): { position: number; hash: string } {
  const dash = rev.indexOf('-');
  return { position: Number(rev.slice(0, dash)), hash: rev.slice(dash + 1) };
}

/** Sort order with the winner first, then the losing leaves as CouchDB lists its conflicts. */
export function winnerFirst(a: RevisionLeaf, b: RevisionLeaf): number {
  if (a.deleted !== b.deleted) return a.deleted ? 1 : -1;
  const ra = parseRev(a.rev);
  const rb = parseRev(b.rev);
  if (ra.position !== rb.position) return rb.position - ra.position;
  return ra.hash < rb.hash ? 1 : ra.hash > rb.hash ? -1 : 0;
}

/** The revisions of a history as `N-hash`, newest (the leaf itself) first. */
export function revisionPath(history: RevisionHistory | undefined): string[] {
  return (history?.ids ?? []).map((hash, i) => `${history!.start - i}-${hash}`);
}
