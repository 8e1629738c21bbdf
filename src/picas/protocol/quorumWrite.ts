import type { PicasDb } from '../client';
import { type ClusterRules, clusterRules, writeQuorum } from '../cluster';
import { couchCall, docPath } from '../couchHttp';
import type { StoredToken } from '../tokenDoc';

/*
 * The writes of the protocol with the quorum the cluster rules ask for (docs/protocol.md, Cluster
 * rules). A write answered 202 was taken by fewer than `w` replicas: it may sit on a losing branch
 * beside a rival write, so the caller settles it (settleWrite.ts) before relying on it.
 */

export interface Written {
  rev: string;
  /** HTTP 202: taken by fewer replicas than asked; settle it before it counts. */
  uncertain: boolean;
}

/** A row of a `_bulk_docs` answer. */
export interface BulkRow {
  id?: string;
  rev?: string;
  ok?: boolean;
  error?: string;
  reason?: string;
}

/** PUT the document with the `_rev` it carries (none: a create). Rejects nano-shaped on 4xx/5xx. */
export async function writeDoc(
  picas: PicasDb,
  doc: StoredToken | Record<string, unknown>,
  signal?: AbortSignal,
): Promise<Written> {
  const rules = await clusterRules(picas);
  const reply = await couchCall<{ rev?: string }>(picas, {
    method: 'PUT',
    path: docPath(String(doc._id)),
    qs: writeQuorum(rules),
    body: doc,
    signal,
  });
  return { rev: String(reply.body?.rev ?? ''), uncertain: reply.status === 202 };
}

/** PUT one attachment on revision `rev` of document `id`. */
export async function writeAttachment(
  picas: PicasDb,
  id: string,
  name: string,
  rev: string,
  bytes: Buffer,
  contentType: string,
): Promise<Written> {
  const rules = await clusterRules(picas);
  // CouchDB takes `/` inside attachment names literally; each segment is escaped on its own.
  const reply = await couchCall<{ rev?: string }>(picas, {
    method: 'PUT',
    path: [...docPath(id), ...name.split('/')],
    qs: { rev, ...writeQuorum(rules) },
    body: bytes,
    contentType,
  });
  return { rev: String(reply.body?.rev ?? ''), uncertain: reply.status === 202 };
}

/** `_bulk_docs` with each doc's `_rev`; `uncertain` when some doc was taken by fewer than `w`. */
export async function writeBulk(
  picas: PicasDb,
  docs: Array<StoredToken | Record<string, unknown>>,
): Promise<{ rows: BulkRow[]; uncertain: boolean; rules: ClusterRules }> {
  const rules = await clusterRules(picas);
  const reply = await couchCall<BulkRow[]>(picas, {
    method: 'POST',
    path: ['_bulk_docs'],
    qs: writeQuorum(rules),
    body: { docs },
  });
  return { rows: Array.isArray(reply.body) ? reply.body : [], uncertain: reply.status === 202, rules };
}

/**
 * Delete one leaf revision (a losing branch of a conflict). Someone else deleting or replacing it
 * first (404/409) is the same outcome: the settling reads the leaves again either way.
 */
export async function deleteLeaf(picas: PicasDb, id: string, rev: string): Promise<void> {
  const rules = await clusterRules(picas);
  try {
    await couchCall(picas, { method: 'DELETE', path: docPath(id), qs: { rev, ...writeQuorum(rules) } });
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== 404 && status !== 409) throw err;
  }
}
