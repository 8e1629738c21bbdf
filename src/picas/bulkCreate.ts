import { LrtError } from '../core';
import { couchError, type PicasDb } from './client';
import { type BulkRow, writeBulkSettled } from './protocol';
import type { StoredToken } from './tokenDoc';
import { buildTokenDoc, type NewToken } from './tokens';

/** What happened to each requested token. Existing tokens are reported, never overwritten. */
export interface CreateReport {
  /** Ids created, already existing, failed (ids only with `keepIds`, the default). */
  created: string[];
  existing: string[];
  failed: { id: string; error: string }[];
  /** How many were created, existed, failed: kept whether or not the ids are. */
  counts: { created: number; existing: number; failed: number };
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
  /** `total`: the number of tokens when known (an array, or `total` given), else undefined. */
  onProgress?: (done: number, total: number | undefined) => void;
  /** Checked before each batch: once aborted, no further batch is sent (the report says so). */
  signal?: AbortSignal;
  /** How many tokens a stream will yield, for progress. */
  total?: number;
  /**
   * Keep the ids of created and existing tokens in the report (default true). Off, the report
   * holds counts and failures only, so a million tokens cost no memory (failures are kept).
   */
  keepIds?: boolean;
  /** Called with each token the server created, after its batch. */
  onCreated?: (token: NewToken) => void;
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
  const cutter = batchCutter<T>(maxCount, maxBytes);
  for (const item of items) {
    const full = cutter.add(item, sizeOf(item));
    if (full) batches.push(full);
  }
  const last = cutter.rest();
  if (last) batches.push(last);
  return batches;
}

/** Cuts a stream of items into batches by count and size: `add` returns a batch once one is full. */
function batchCutter<T>(maxCount: number, maxBytes: number) {
  let current: T[] = [];
  let bytes = 0;
  return {
    add(item: T, size: number): T[] | undefined {
      let full: T[] | undefined;
      if (current.length > 0 && (current.length >= maxCount || bytes + size > maxBytes)) {
        full = current;
        current = [];
        bytes = 0;
      }
      current.push(item);
      bytes += size;
      return full;
    },
    rest(): T[] | undefined {
      const last = current.length > 0 ? current : undefined;
      current = [];
      return last;
    },
  };
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

/**
 * Sorts the rows of one `_bulk_docs` answer into the report (ids only when `keepIds`); returns
 * the ids created. Never looks at `reason` text.
 */
export function classifyRows(
  docs: StoredToken[],
  rows: BulkRow[],
  report: CreateReport,
  keepIds = true,
): Set<string> {
  const byId = new Map(rows.filter((r) => r.id !== undefined).map((r) => [r.id, r]));
  const created = new Set<string>();
  docs.forEach((doc, i) => {
    const row = byId.get(doc._id) ?? rows[i];
    if (!row) {
      report.failed.push({ id: doc._id, error: 'no answer from the server for this token' });
      report.counts.failed++;
    } else if (!row.error) {
      created.add(doc._id);
      if (keepIds) report.created.push(doc._id);
      report.counts.created++;
    } else if (row.error === 'conflict') {
      if (keepIds) report.existing.push(doc._id);
      report.counts.existing++;
    } else {
      report.failed.push({ id: doc._id, error: row.reason ? `${row.error}: ${row.reason}` : row.error });
      report.counts.failed++;
    }
  });
  return created;
}

export function emptyCreateReport(): CreateReport {
  return { created: [], existing: [], failed: [], counts: { created: 0, existing: 0, failed: 0 } };
}

interface Built {
  token: NewToken;
  doc: StoredToken;
}

async function* builtDocs(
  type: string,
  tokens: Iterable<NewToken> | AsyncIterable<NewToken>,
): AsyncGenerator<Built> {
  if (Array.isArray(tokens)) {
    // An array is checked whole before anything is written.
    assertUniqueIds(tokens);
    const built = tokens.map((token: NewToken) => ({ token, doc: buildTokenDoc(type, token) }));
    yield* built;
    return;
  }
  for await (const token of tokens) yield { token, doc: buildTokenDoc(type, token) };
}

/**
 * Creates tokens through `_bulk_docs` with their attachments inline (base64), one request per
 * batch instead of a PUT per document and a PUT per attachment. Documents are sent without `_rev`,
 * so an id that exists comes back as a 409 row and is reported in `existing`, untouched: re-running
 * the same creation is safe. An array is validated whole (ids, fields, attachment names) before
 * anything is written; a stream (an async iterable, ids unique by construction) is built and
 * written a batch at a time, so it never holds more than one batch: a stream's tokens must come
 * from one template whose first token, validated before the first write, stands for the rest.
 */
export async function bulkCreateTokens(
  picas: PicasDb,
  type: string,
  tokens: Iterable<NewToken> | AsyncIterable<NewToken>,
  options: BulkCreateOptions = {},
): Promise<CreateReport> {
  const total = Array.isArray(tokens) ? tokens.length : options.total;
  const keepIds = options.keepIds ?? true;
  const cutter = batchCutter<Built>(
    Math.max(1, options.batchSize ?? DEFAULT_BATCH_SIZE),
    options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
  );
  const report = emptyCreateReport();
  let done = 0;
  let sent = 0;
  const write = async (batch: Built[]): Promise<boolean> => {
    if (options.signal?.aborted) {
      report.interrupted = true;
      return false;
    }
    const docs = batch.map((b) => b.doc);
    let rows: BulkRow[];
    try {
      rows = await writeBulkSettled(picas, docs);
    } catch (err) {
      const sofar = sent > 0 ? ` after ${report.counts.created} created (re-running is safe)` : '';
      throw couchError(picas, `create tokens in ${picas.name} (batch ${sent + 1}${sofar})`, err);
    }
    sent += 1;
    const created = classifyRows(docs, rows, report, keepIds);
    if (options.onCreated) for (const b of batch) if (created.has(b.doc._id)) options.onCreated(b.token);
    done += batch.length;
    options.onProgress?.(done, total);
    return true;
  };
  for await (const built of builtDocs(type, tokens)) {
    const full = cutter.add(built, JSON.stringify(built.doc).length);
    if (full && !(await write(full))) return report;
  }
  const last = cutter.rest();
  if (last) await write(last);
  return report;
}
