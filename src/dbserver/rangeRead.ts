import { isTrue, pouchCollate, rangesOf } from './viewRange';

/*
 * A map read of pouch's own view index (pouchdb-abstract-mapreduce's view database, whose row ids
 * are `toIndexableString([key, doc id])`) that selects the rows CouchDB 3 selects (viewRange.ts),
 * for the reads pouch's own code selects otherwise: `startkey_docid`/`endkey_docid` (pouch starts
 * at the first row of the key), `inclusive_end` with `key`, `descending` with `keys`. Each range
 * is read by its bounds, so a page deep inside one repeated key costs its own rows (plus `skip`),
 * as on CouchDB, not the rows of the key before it.
 */

export interface ViewRow {
  id: string;
  key: unknown;
  value: unknown;
  doc?: unknown;
}

/** What of a PouchDB database (the source database, or a view's index) is read. */
export interface AllDocsDb {
  allDocs(opts: Record<string, unknown>): Promise<{
    total_rows?: number;
    rows: Array<{ id: string; doc?: ({ _id: string; value?: unknown } & Record<string, unknown>) | null }>;
  }>;
}

/** The document a row stands for: the `_id` its value names (a linked document), else its own. */
function docIdOf(row: ViewRow): string {
  const value = row.value as { _id?: unknown } | null;
  return value && typeof value === 'object' && typeof value._id === 'string' ? value._id : row.id;
}

/** `include_docs`: each row gets its document as it is now; `null` when it is gone (as CouchDB). */
export async function attachDocs(
  db: AllDocsDb,
  rows: ViewRow[],
  opts: Record<string, unknown>,
): Promise<void> {
  if (rows.length === 0) return;
  const ids = [...new Set(rows.map(docIdOf))];
  const found = await db.allDocs({
    keys: ids,
    include_docs: true,
    conflicts: opts.conflicts,
    attachments: opts.attachments,
  });
  const docs = new Map(found.rows.map((r) => [r.id, r.doc ?? null]));
  for (const row of rows) row.doc = docs.get(docIdOf(row)) ?? null;
}

function count(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  return Number(value);
}

/**
 * The rows `opts` selects from the index `index` of a view of `source`, with `total_rows`,
 * `offset` (as pouch answers it: the `skip`) and the documents when `include_docs`.
 */
export async function readIndexRange(
  index: AllDocsDb,
  source: AllDocsDb,
  opts: Record<string, unknown>,
): Promise<{ total_rows: number; offset: number; rows: ViewRow[] }> {
  const { toIndexableString, parseIndexableString } = pouchCollate();
  const descending = isTrue(opts.descending);
  const skip = count(opts.skip) ?? 0;
  const limit = count(opts.limit);
  const ranges = rangesOf(opts);
  // One range: skip and limit go to the index read. Several (`keys`): they apply to the rows of
  // all of them, so each is read up to skip + limit rows.
  const single = ranges.length === 1;
  const rows: ViewRow[] = [];
  let totalRows = 0;
  for (const { low, high } of ranges) {
    if (limit !== undefined && !single && rows.length >= skip + limit) break;
    const [start, end] = descending ? [high, low] : [low, high];
    const page = await index.allDocs({
      include_docs: true,
      descending,
      ...(start ? { startkey: toIndexableString(start) } : {}),
      // Ascending, `high` is the first row left out; descending, `low` is the last one taken.
      ...(end ? { endkey: toIndexableString(end), inclusive_end: descending } : {}),
      ...(single ? { skip, ...(limit === undefined ? {} : { limit }) } : {}),
      ...(!single && limit !== undefined ? { limit: skip + limit } : {}),
    });
    totalRows = page.total_rows ?? totalRows;
    for (const row of page.rows) {
      if (!row.doc) continue;
      const [key, id] = parseIndexableString(row.doc._id);
      rows.push({ id: id as string, key, value: 'value' in row.doc ? row.doc.value : null });
    }
  }
  const selected = single ? rows : rows.slice(skip, limit === undefined ? undefined : skip + limit);
  if (isTrue(opts.include_docs)) await attachDocs(source, selected, opts);
  return { total_rows: totalRows, offset: skip, rows: selected };
}
