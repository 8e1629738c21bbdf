import { couchError, type PicasDb } from './client';
import { type BulkRow, type TokenPatch, writeBulkSettled } from './protocol';
import { docToWrite, type StoredToken, type TokenDoc, type Tombstone, tokenToDoc } from './tokenDoc';

/** A page of candidate tokens, as read. */
export interface SourcePage {
  docs: TokenDoc[];
  /** Estimated candidates in all (for progress); 0 when unknown. */
  total: number;
}

/** Which tokens a bulk update goes over (a view, every token of a type ...). */
export interface BulkSource {
  /** For messages: "view locked of _design/T". */
  label: string;
  pages(): AsyncIterable<SourcePage>;
  /** Fresh copies of `ids` that still belong to the selection; the others are skipped. */
  reread(ids: string[]): Promise<TokenDoc[]>;
}

export interface BulkProgress {
  processed: number;
  total: number;
  changed: number;
}

export interface BulkUpdateOptions {
  /** Compute what would change, write nothing. */
  dryRun?: boolean;
  /** Rounds of re-read and retry for rows that came back 409 (default 10). */
  maxRounds?: number;
  onProgress?: (progress: BulkProgress) => void;
  /** Checked before each page: once aborted, no further page is read or written. */
  signal?: AbortSignal;
}

export interface TokenPreview {
  id: string;
  fields: Record<string, FieldChange>;
}

export interface BulkUpdateReport {
  /** Tokens written (on a dry run: that would be). */
  changed: number;
  /** Tokens the patch left alone, or that left the selection before we could write them. */
  skipped: number;
  /** 409 rows that were re-read and tried again. */
  conflictsRetried: number;
  /** `notFound`: an id given by hand that names no token; running again does not help. */
  failed: { id: string; error: string; notFound?: true }[];
  /** Ids of the changed tokens. */
  ids: string[];
  dryRun: boolean;
  /** Dry run only: the fields each token would change, before and after. */
  preview?: TokenPreview[];
  /** Set when `signal` stopped the work between two pages: the pages before it are whole. */
  interrupted?: true;
}

export interface FieldChange {
  before: unknown;
  after: unknown;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The top-level fields a patch changes, before and after (for --dry-run). Attachments are shown
 * by name, a deletion as `_deleted: false -> true`.
 */
export function changedFields(token: TokenDoc, patched: TokenDoc | Tombstone): Record<string, FieldChange> {
  if (!('extra' in patched)) return { _deleted: { before: false, after: true } };
  const before = tokenToDoc(token);
  const after = tokenToDoc(patched);
  const changes: Record<string, FieldChange> = {};
  const fields = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const field of fields) {
    if (field === '_rev' || field === '_id') continue;
    let a: unknown = before[field];
    let b: unknown = after[field];
    if (field === '_attachments') {
      a = Object.keys(before._attachments ?? {}).sort();
      b = Object.keys(after._attachments ?? {}).sort();
    }
    if (!same(a, b)) changes[field] = { before: a, after: b };
  }
  return changes;
}

export const DEFAULT_MAX_ROUNDS = 10;

/**
 * Rows worth a re-read and another try: a conflict, and on a cluster a stub that a replica not
 * yet holding the `_rev` we read cannot resolve (412 missing_stub).
 */
const RETRIED_ERRORS = new Set(['conflict', 'missing_stub']);

export function emptyReport(dryRun: boolean): BulkUpdateReport {
  return {
    changed: 0,
    skipped: 0,
    conflictsRetried: 0,
    failed: [],
    ids: [],
    dryRun,
    ...(dryRun ? { preview: [] } : {}),
  };
}

/** One `_bulk_docs` write; a row that lost on a cluster comes back as a conflict (writeBulkSettled). */
async function writeBatch(
  picas: PicasDb,
  source: BulkSource,
  docs: Array<StoredToken | Tombstone>,
  report: BulkUpdateReport,
): Promise<BulkRow[]> {
  try {
    return await writeBulkSettled(picas, docs);
  } catch (err) {
    const so = `after ${report.changed} changed; running it again is safe, changed tokens are skipped`;
    throw couchError(picas, `update tokens of ${source.label} in ${picas.name} (${so})`, err);
  }
}

/**
 * One page: patch, write with each doc's `_rev` through `_bulk_docs`, and for rows that come back
 * 409 re-read the fresh doc through the source (a doc that left the selection is skipped), patch
 * it again and retry, up to `maxRounds`. Never `new_edits=false`, never a write without `_rev`:
 * whatever another writer changed in between survives. Rows are matched by id, errors by their
 * `error` code only (never the `reason` text).
 */
async function applyPage(
  picas: PicasDb,
  source: BulkSource,
  patch: TokenPatch,
  docs: TokenDoc[],
  report: BulkUpdateReport,
  maxRounds: number,
): Promise<void> {
  let pending = docs;
  for (let round = 0; pending.length > 0; round++) {
    const writes: Array<StoredToken | Tombstone> = [];
    for (const doc of pending) {
      const result = patch(doc);
      if ('skip' in result) {
        report.skipped++;
        continue;
      }
      if (report.dryRun) {
        report.changed++;
        report.ids.push(doc._id);
        report.preview?.push({ id: doc._id, fields: changedFields(doc, result.doc) });
      } else writes.push({ ...docToWrite(result.doc), _id: doc._id, _rev: doc._rev });
    }
    if (writes.length === 0) return;
    const rows = await writeBatch(picas, source, writes, report);
    const byId = new Map(rows.filter((r) => r.id !== undefined).map((r) => [r.id, r]));
    const conflicted: string[] = [];
    writes.forEach((doc, i) => {
      const row = byId.get(doc._id) ?? rows[i];
      if (!row) report.failed.push({ id: doc._id, error: 'no answer from the server for this token' });
      else if (!row.error) {
        report.changed++;
        report.ids.push(doc._id);
      } else if (RETRIED_ERRORS.has(row.error)) conflicted.push(doc._id);
      else report.failed.push({ id: doc._id, error: row.reason ? `${row.error}: ${row.reason}` : row.error });
    });
    if (conflicted.length === 0) return;
    if (round >= maxRounds) {
      for (const id of conflicted) {
        report.failed.push({ id, error: `conflict: still changed by others after ${maxRounds} retries` });
      }
      return;
    }
    report.conflictsRetried += conflicted.length;
    pending = await source.reread(conflicted);
    report.skipped += conflicted.length - pending.length;
  }
}

/**
 * Applies `patch` to every token of `source`, page by page (one `_bulk_docs` per page).
 * Rows that fail for good are listed in `failed`; the call throws only when the server cannot
 * be used at all.
 */
export async function bulkUpdate(
  picas: PicasDb,
  source: BulkSource,
  patch: TokenPatch,
  options: BulkUpdateOptions = {},
): Promise<BulkUpdateReport> {
  const report = emptyReport(options.dryRun === true);
  const maxRounds = options.maxRounds ?? DEFAULT_MAX_ROUNDS;
  let processed = 0;
  for await (const page of source.pages()) {
    if (options.signal?.aborted) {
      report.interrupted = true;
      break;
    }
    await applyPage(picas, source, patch, page.docs, report, maxRounds);
    processed += page.docs.length;
    options.onProgress?.({ processed, total: Math.max(page.total, processed), changed: report.changed });
  }
  return report;
}
