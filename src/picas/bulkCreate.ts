import { LrtError } from '../core';
import { couchError, type PicasDb, type TokenDoc } from './client';
import { type BulkRow, writeBulkSettled } from './protocol';
import { buildTokenDoc, type NewToken } from './tokens';

/** What happened to each requested token. Existing tokens are reported, never overwritten. */
export interface CreateReport {
  created: string[];
  existing: string[];
  failed: { id: string; error: string }[];
  /** Set when `signal` stopped the work between two batches: only whole batches were written. */
  interrupted?: true;
}

export interface BulkCreateOptions {
  /** Documents per `_bulk_docs` request (default 500). */
  batchSize?: number;
  /**
   * Upper bound on the JSON size of one request (default 8 MiB): batches with large attachments
   * are cut smaller. A single larger token still goes alone.
   */
  maxBatchBytes?: number;
  onProgress?: (done: number, total: number) => void;
  /** Checked before each batch: once aborted, no further batch is sent (the report says so). */
  signal?: AbortSignal;
}

export const DEFAULT_BATCH_SIZE = 500;
const DEFAULT_MAX_BATCH_BYTES = 8 * 1024 * 1024;

/** Splits docs into batches by count and by approximate request size. Pure. */
export function planBatches<T>(
  items: T[],
  sizeOf: (item: T) => number,
  maxCount: number,
  maxBytes: number,
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (current.length >= maxCount || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

function assertUniqueIds(tokens: NewToken[]): void {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const t of tokens) (seen.has(t.id) ? twice : seen).add(t.id);
  if (twice.size > 0) {
    const list = [...twice].slice(0, 5).join(', ');
    throw new LrtError('E_USAGE', `token ids given more than once: ${list}${twice.size > 5 ? ', ...' : ''}`);
  }
}

/** Sorts the rows of one `_bulk_docs` answer into the report. Never looks at `reason` text. */
export function classifyRows(docs: TokenDoc[], rows: BulkRow[], report: CreateReport): void {
  const byId = new Map(rows.filter((r) => r.id !== undefined).map((r) => [r.id, r]));
  docs.forEach((doc, i) => {
    const row = byId.get(doc._id) ?? rows[i];
    if (!row) report.failed.push({ id: doc._id, error: 'no answer from the server for this token' });
    else if (!row.error) report.created.push(doc._id);
    else if (row.error === 'conflict') report.existing.push(doc._id);
    else report.failed.push({ id: doc._id, error: row.reason ? `${row.error}: ${row.reason}` : row.error });
  });
}

/**
 * Creates tokens through `_bulk_docs` with their attachments inline (base64), one request per
 * batch instead of a PUT per document and a PUT per attachment. Documents are sent without `_rev`,
 * so an id that exists comes back as a 409 row and is reported in `existing`, untouched: re-running
 * the same creation is safe. Validation of every id, field and attachment name happens before
 * anything is written.
 */
export async function bulkCreateTokens(
  picas: PicasDb,
  type: string,
  tokens: NewToken[],
  options: BulkCreateOptions = {},
): Promise<CreateReport> {
  assertUniqueIds(tokens);
  const docs = tokens.map((t) => buildTokenDoc(type, t));
  const sizes = new Map(docs.map((d) => [d._id, JSON.stringify(d).length]));
  const batches = planBatches(
    docs,
    (d) => sizes.get(d._id) ?? 0,
    Math.max(1, options.batchSize ?? DEFAULT_BATCH_SIZE),
    options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
  );
  const report: CreateReport = { created: [], existing: [], failed: [] };
  let done = 0;
  for (const [index, batch] of batches.entries()) {
    if (options.signal?.aborted) {
      report.interrupted = true;
      break;
    }
    let rows: BulkRow[];
    try {
      rows = await writeBulkSettled(picas, batch);
    } catch (err) {
      const sofar = index > 0 ? ` after ${report.created.length} created (re-running is safe)` : '';
      throw couchError(
        picas,
        `create tokens in ${picas.name} (batch ${index + 1} of ${batches.length}${sofar})`,
        err,
      );
    }
    classifyRows(batch, rows, report);
    done += batch.length;
    options.onProgress?.(done, docs.length);
  }
  return report;
}
