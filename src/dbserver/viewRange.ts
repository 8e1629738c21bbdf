/*
 * Which rows of a view a map read selects, by CouchDB 3's rules (couch_mrview's key_opts): the
 * index is ordered by (key, doc id); `startkey` with `startkey_docid` starts at the row
 * (startkey, docid), `endkey` with `endkey_docid` ends at (endkey, docid), inclusive or not by
 * `inclusive_end`, from the other end when `descending`. `key=K` is `startkey=K&endkey=K` (the
 * doc ids and `inclusive_end` apply to it too: `key=K&inclusive_end=false` selects nothing), and
 * each key of `keys` is such a range of its own. A doc id without its key is ignored.
 *
 * A range is given as two arrays compared with pouch's collation against a row's `[key, id]`:
 * the rows with `low <= [key, id] < high`. The same arrays, as `toIndexableString`, bound the
 * rows of pouch's own index, whose row ids are `[key, id]` (`[key, id, n]` for a second emit of
 * the same key by the same doc), so one computation serves the in-memory index of lagging views
 * (laggingViews.ts) and the reads of pouch's index (rangeRead.ts).
 */

import { createRequire } from 'node:module';

const requireCjs = createRequire(__filename);

/** pouchdb-collate: CouchDB's collation as pouch implements it, and its index-id form of keys. */
export interface PouchCollate {
  collate(a: unknown, b: unknown): number;
  normalizeKey(key: unknown): unknown;
  toIndexableString(key: unknown): string;
  parseIndexableString(indexable: string): unknown[];
}
let collation: PouchCollate | undefined;
export function pouchCollate(): PouchCollate {
  collation ??= requireCjs('pouchdb-collate') as PouchCollate;
  return collation;
}

export interface KeyRange {
  /** Rows at or after this `[key, id...]`; undefined: from the first row. */
  low?: unknown[];
  /** Rows strictly before this `[key, id...]`; undefined: to the last row. */
  high?: unknown[];
}

type ViewOptions = Record<string, unknown>;

/** CouchDB's name, or its alias (`start_key` for `startkey`...), as given. */
function option(opts: ViewOptions, name: string, alias: string): unknown {
  return opts[name] !== undefined ? opts[name] : opts[alias];
}

/** A boolean view parameter as a caller in this process or the query string gives it. */
export function isTrue(value: unknown): boolean {
  return value === true || value === 'true';
}

export function isFalse(value: unknown): boolean {
  return value === false || value === 'false';
}

function docIdOption(opts: ViewOptions, name: string, alias: string): string | undefined {
  const value = option(opts, name, alias);
  // A doc id is a string on the wire; a caller in this process may hand over another JSON value.
  return value === undefined ? undefined : typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * One end of a range: `[key]` or `[key, id]`, and `{}` (above every string) appended where the
 * end must take in, or step over, every row of that key (or of that key and id).
 */
function end(key: unknown, id: string | undefined, pastKeyRows: boolean): unknown[] {
  return [key, ...(id === undefined ? [] : [id]), ...(pastKeyRows ? [{}] : [])];
}

/** The range of a read without `keys` (or of one key of `keys`, given as `key`). */
export function rangeOf(opts: ViewOptions): KeyRange {
  const hasKey = opts.key !== undefined;
  const startkey = hasKey ? opts.key : option(opts, 'startkey', 'start_key');
  const endkey = hasKey ? opts.key : option(opts, 'endkey', 'end_key');
  const startId = docIdOption(opts, 'startkey_docid', 'start_key_doc_id');
  const endId = docIdOption(opts, 'endkey_docid', 'end_key_doc_id');
  const inclusiveEnd = !isFalse(opts.inclusive_end);
  // The start is always taken in; the end as inclusive_end says. Descending, the start is the
  // high end of the range and the end the low one.
  const startAt = (descending: boolean) => startkey !== undefined && end(startkey, startId, descending);
  const endAt = (descending: boolean) =>
    endkey !== undefined && end(endkey, endId, descending ? !inclusiveEnd : inclusiveEnd);
  const descending = isTrue(opts.descending);
  const [low, high] = descending ? [endAt(true), startAt(true)] : [startAt(false), endAt(false)];
  return { ...(low ? { low } : {}), ...(high ? { high } : {}) };
}

/** The ranges a read selects, in the order of its answer: one per key of `keys`, else one. */
export function rangesOf(opts: ViewOptions): KeyRange[] {
  if (!Array.isArray(opts.keys)) return [rangeOf(opts)];
  const { keys, key: _key, ...rest } = opts;
  return keys.map((key) => rangeOf({ ...rest, key }));
}

/**
 * Whether a read selects rows otherwise than pouch's own engine selects them: pouch ignores the
 * doc ids, `inclusive_end` with `key`/`keys`, and `descending` with `keys`.
 */
export function pouchMisreadsRange(opts: ViewOptions): boolean {
  const keyed = opts.key !== undefined || Array.isArray(opts.keys);
  const startGiven = keyed || option(opts, 'startkey', 'start_key') !== undefined;
  const endGiven = keyed || option(opts, 'endkey', 'end_key') !== undefined;
  return (
    (startGiven && option(opts, 'startkey_docid', 'start_key_doc_id') !== undefined) ||
    (endGiven && option(opts, 'endkey_docid', 'end_key_doc_id') !== undefined) ||
    (keyed && isFalse(opts.inclusive_end)) ||
    (Array.isArray(opts.keys) && isTrue(opts.descending))
  );
}
