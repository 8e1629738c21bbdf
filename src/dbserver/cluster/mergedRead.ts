import type http from 'node:http';
import { type RevisionHistory, revisionPath, winnerFirst } from '../../core/revisions';
import { fieldOf, jsonReply, type NodeReply, type NodeRequest, replyJson } from './nodeHttp';

/*
 * GET /db/docid through the coordinator, with read quorum r: the home node and r-1 others are read.
 * For the current revision each lists its leaves (open_revs=all&revs=true); a leaf one replica holds
 * may be an ancestor of another replica's leaf, so the leaves are merged over the revision
 * histories, then the winner is chosen as CouchDB does everywhere: live before deleted, then the
 * longest history, then the greatest revision id. `_conflicts` (conflicts=true) lists the merged
 * live losing leaves. A given revision (?rev=) is answered by the first replica that holds it, as
 * fabric's open_revs prefers a found revision to a missing one. `open_revs=all` answers every leaf
 * of the merged tree, deleted ones included, as fabric_doc_open_revs merges its replies' trees.
 */

interface Leaf {
  rev: string;
  deleted: boolean;
  /** The revisions this one descends from. */
  ancestors: string[];
  doc: Record<string, unknown>;
}

export interface MergedReadRequest {
  /** Path of the document, percent-encoded. */
  docPath: string;
  /** The query string for the nodes (without r), empty or starting with '?'. */
  nodeQuery: string;
  headers: http.OutgoingHttpHeaders;
  /** Node indexes to read from, the home node first. */
  readFrom: number[];
  /** A given revision (?rev=), else the current one. */
  rev: string | undefined;
  conflicts: boolean;
  /** revs=true: the winner keeps its `_revisions`. */
  revs: boolean;
  /** open_revs=all: every leaf, as `[{ok: doc}]`. */
  allLeaves: boolean;
}

type AskNode = (nodeIndex: number, request: NodeRequest) => Promise<NodeReply>;

export async function mergedRead(ask: AskNode, request: MergedReadRequest): Promise<NodeReply> {
  const headers = { ...request.headers, accept: 'application/json' };
  const readAll = (path: string) =>
    Promise.all(request.readFrom.map((node) => ask(node, { method: 'GET', path, headers })));
  if (request.rev !== undefined) {
    const replies = await readAll(`${request.docPath}${request.nodeQuery}`);
    return replies.find((reply) => reply.status === 200) ?? replies[0]!;
  }

  const replies = await readAll(`${request.docPath}?open_revs=all&revs=true`);
  // An unknown database, a refused login...: the home node's own answer.
  const unexpected = replies.find((reply) => reply.status !== 200 && reply.status !== 404);
  if (unexpected) return unexpected;
  const found = replies.filter((reply) => reply.status === 200);
  if (found.length === 0) return replies[0]!;

  const leaves = currentLeaves(found.flatMap(leavesOf)).sort(winnerFirst);
  if (request.allLeaves)
    return jsonReply(
      200,
      leaves.map((leaf) => ({ ok: shown(leaf.doc, request.revs) })),
    );
  const [winner, ...losers] = leaves;
  if (!winner) return jsonReply(404, { error: 'not_found', reason: 'missing' });
  if (winner.deleted) return jsonReply(404, { error: 'not_found', reason: 'deleted' });

  const body = shown(winner.doc, request.revs);
  const conflicts = losers.filter((leaf) => !leaf.deleted).map((leaf) => leaf.rev);
  if (request.conflicts && conflicts.length > 0) body._conflicts = conflicts;
  const reply = jsonReply(200, body);
  reply.headers.etag = `"${winner.rev}"`;
  return reply;
}

/** A leaf's document as answered: with its `_revisions` only when asked (revs=true). */
function shown(doc: Record<string, unknown>, revs: boolean): Record<string, unknown> {
  const { _revisions, ...body } = doc;
  return revs ? { ...body, _revisions } : body;
}

/** The leaves one replica reported, with their histories. */
function leavesOf(reply: NodeReply): Leaf[] {
  const answer = replyJson(reply);
  if (!Array.isArray(answer)) return [];
  return answer.flatMap((entry) => {
    const doc = fieldOf(entry, 'ok') as Record<string, unknown> | undefined;
    if (!doc || typeof doc._rev !== 'string') return [];
    const ancestors = revisionPath(doc._revisions as RevisionHistory | undefined).slice(1);
    return [{ rev: doc._rev, deleted: doc._deleted === true, ancestors, doc }];
  });
}

/** One leaf per revision, without those another replica has already built upon. */
function currentLeaves(reported: Leaf[]): Leaf[] {
  const superseded = new Set(reported.flatMap((leaf) => leaf.ancestors));
  const byRev = new Map<string, Leaf>();
  for (const leaf of reported) if (!superseded.has(leaf.rev)) byRev.set(leaf.rev, leaf);
  return [...byRev.values()];
}
