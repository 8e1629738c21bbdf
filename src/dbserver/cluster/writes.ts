import type { FanOut } from './fanout';
import {
  fieldOf,
  isSuccess,
  jsonReply,
  type NodeAddress,
  type NodeReply,
  type NodeRequest,
  replyJson,
} from './nodeHttp';
import { quorumMet, quorumOutcome, type ReplyKind } from './quorum';

/* Writes sent to every replica, and their answers combined by the quorum rules (quorum.ts). */

export interface WriteTargets {
  nodes: NodeAddress[];
  fanOut: FanOut;
}

/** An entry of a _bulk_docs answer; `noreply` stands for a doc a node left out (new_edits=false). */
interface BulkEntry {
  id?: string;
  ok?: boolean;
  rev?: string;
  error?: string;
  reason?: string;
  noreply?: true;
}

const httpReply: ReplyKind<NodeReply> = {
  acceptedRev: (reply) => (isSuccess(reply) ? String(fieldOf(replyJson(reply), 'rev') ?? 'ok') : undefined),
  errorKey: (reply) => `${reply.status} ${String(fieldOf(replyJson(reply), 'error'))}`,
};

const bulkEntry: ReplyKind<BulkEntry> = {
  acceptedRev: (entry) => (entry.error === undefined ? (entry.rev ?? 'noreply') : undefined),
  errorKey: (entry) => `${entry.error} ${entry.reason}`,
};

/**
 * One document (or attachment, design or _local doc) written on every replica: the replicas'
 * status (201, or 200 for a DELETE) with quorum, 202 below it, else their error (409...).
 */
export async function writeDocument(
  targets: WriteTargets,
  request: NodeRequest,
  w: number,
): Promise<NodeReply> {
  const replies = await targets.fanOut.send(targets.nodes, request, (sofar) =>
    quorumMet(sofar, w, httpReply),
  );
  const { verdict, reply } = quorumOutcome(replies, w, httpReply);
  return verdict === 'accepted' ? { ...reply, status: 202 } : reply;
}

/**
 * _bulk_docs on every replica, combined per document as chttpd_db does: HTTP 201 when every
 * document met its quorum, 202 when one was only accepted (its entry gets `accepted: true`), 500
 * when the replicas failed a document with different errors. `ids` are the documents' ids, in order.
 */
export async function writeBulkDocs(
  targets: WriteTargets,
  request: NodeRequest,
  ids: string[],
  newEdits: boolean,
  w: number,
): Promise<NodeReply> {
  const entries = new WeakMap<NodeReply, BulkEntry[]>();
  const entriesOf = (reply: NodeReply) => {
    if (!entries.has(reply)) entries.set(reply, bulkEntries(reply, ids, newEdits));
    return entries.get(reply)!;
  };
  const everyDocMet = (sofar: NodeReply[]) => {
    const perNode = sofar.map(entriesOf);
    return ids.every((_, i) =>
      quorumMet(
        perNode.map((nodeEntries) => nodeEntries[i]!),
        w,
        bulkEntry,
      ),
    );
  };
  const replies = await targets.fanOut.send(targets.nodes, request, everyDocMet);
  if (!replies.some(isSuccess)) return quorumOutcome(replies, 1, httpReply).reply;

  const perNode = replies.map(entriesOf);
  const outcomes = ids.map((_, i) =>
    quorumOutcome(
      perNode.map((entries) => entries[i]!),
      w,
      bulkEntry,
    ),
  );
  const body = outcomes.flatMap(({ verdict, reply }) => {
    if (reply.noreply) return [];
    const { noreply: _, ...entry } = reply;
    return verdict === 'accepted' ? [{ ...entry, accepted: true }] : [entry];
  });
  const verdicts = new Set(outcomes.map((outcome) => outcome.verdict));
  const status = verdicts.has('failed-differently') ? 500 : verdicts.has('accepted') ? 202 : 201;
  return jsonReply(status, body);
}

/**
 * A database-wide change every replica must make (create or delete the database, _security,
 * _revs_limit, compaction): the replicas' status when all made it, 202 when only some did.
 */
export async function writeEverywhere(targets: WriteTargets, request: NodeRequest): Promise<NodeReply> {
  return writeDocument(targets, request, targets.nodes.length);
}

/** One entry per document, in order, from one node's answer (its error for every doc if it failed). */
function bulkEntries(reply: NodeReply, ids: string[], newEdits: boolean): BulkEntry[] {
  const answer = replyJson(reply);
  if (!isSuccess(reply) || !Array.isArray(answer)) {
    const error = String(fieldOf(answer, 'error') ?? 'unknown_error');
    const reason = String(fieldOf(answer, 'reason') ?? '');
    return ids.map((id) => ({ id, error, reason }));
  }
  const entries = answer as BulkEntry[];
  if (newEdits) return ids.map((id, i) => entries[i] ?? { id, error: 'internal_server_error' });
  // With new_edits=false a node lists only the documents it failed, as CouchDB does.
  const failed = new Map(entries.filter((entry) => entry.error).map((entry) => [entry.id, entry]));
  return ids.map((id) => failed.get(id) ?? { id, noreply: true });
}
