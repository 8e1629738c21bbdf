import { createRequire } from 'node:module';

/*
 * Reduce reads of the embedded server that do not re-read the whole index. pouchdb-abstract-
 * mapreduce answers `group=true` on `overview_total` by reading every row of the view and reducing
 * them all, on every read: 5 s at 100k tokens, for each `lrt status` and each refresh of the
 * `lrt serve` page. CouchDB keeps a reduction in every node of its B-tree and re-reduces only the
 * nodes a write touched. This does the same with one level of nodes: the index (pouch's view
 * database, rows sorted by [key, doc id]) is cut into chunks of about CHUNK_ROWS rows, and each
 * chunk keeps the reduction of its rows per key. A read first takes the index's changes feed since
 * the last read, recomputes only the chunks those changes fall in, and re-reduces the chunk
 * results: a read costs the rows written since the last one, not the size of the view.
 *
 * Built-in reduces only (_sum, _count, _stats), whose re-reduce is known; a read with a key range,
 * `keys` or a JavaScript reduce goes to pouch's own code (viewEngine.ts decides).
 */
const requireCjs = createRequire(__filename);

interface Collate {
  collate(a: unknown, b: unknown): number;
  parseIndexableString(indexable: string): unknown[];
}
const pouchCollate = (): Collate => requireCjs('pouchdb-collate') as Collate;

/** Rows per chunk: a read recomputes one chunk per index row written since the last read. */
export const CHUNK_ROWS = 32;
/** Changes read per request of the index's feed. */
const CHANGES_PAGE = 5000;
/** Rounds of "read the changes, recompute" while writes keep coming, before answering anyway. */
const MAX_ROUNDS = 5;

export type BuiltInReduce = '_sum' | '_count' | '_stats';

/** What of pouch's view database (the index) this reads. */
export interface IndexDb {
  info(): Promise<{ update_seq: number | string; doc_count: number }>;
  changes(
    opts: Record<string, unknown>,
  ): Promise<{ results: Array<{ id: string }>; last_seq: number | string }>;
  allDocs(opts: Record<string, unknown>): Promise<{
    rows: Array<{ id: string; doc?: { _id: string; value?: unknown } }>;
  }>;
}

/** The reduction of the rows of one key within a chunk. */
interface KeyReduction {
  key: unknown;
  value: unknown;
}

interface Chunk {
  /** The index id (pouch's indexable [key, doc id]) the chunk starts at; '' for the first. */
  start: string;
  rows: number;
  /** Per key, in key order; undefined while rows in the chunk changed since it was computed. */
  keys: KeyReduction[] | undefined;
}

export interface ReduceIndexState {
  reduce: BuiltInReduce;
  /** The index's update_seq up to which changes are in the chunks. */
  seq: number | string;
  chunks: Chunk[] | undefined;
  /** Reads of one view run one after the other: the second then finds little to do. */
  queue: Promise<unknown>;
}

export function newReduceIndexState(reduce: BuiltInReduce): ReduceIndexState {
  return { reduce, seq: 0, chunks: undefined, queue: Promise.resolve() };
}

/** `_sum`, `_count` or `_stats` (CouchDB matches by prefix, as pouch does), else undefined. */
export function builtInReduceName(source: unknown): BuiltInReduce | undefined {
  const match = /^_(sum|count|stats)/.exec(String(source));
  return match ? (`_${match[1]}` as BuiltInReduce) : undefined;
}

interface Stats {
  sum: number;
  min: number;
  max: number;
  count: number;
  sumsqr: number;
}

/** Re-reduce of built-in reductions: what CouchDB calls with rereduce=true. */
function rereduce(reduce: BuiltInReduce, values: unknown[], sum: (values: unknown[]) => unknown): unknown {
  if (reduce === '_stats') {
    const all = values as Stats[];
    return {
      sum: all.reduce((t, s) => t + s.sum, 0),
      min: Math.min(...all.map((s) => s.min)),
      max: Math.max(...all.map((s) => s.max)),
      count: all.reduce((t, s) => t + s.count, 0),
      sumsqr: all.reduce((t, s) => t + s.sumsqr, 0),
    };
  }
  // _count's partial results are counts: they add up like _sum's.
  return sum(values);
}

export interface ReduceFunctions {
  /** The first-level reduce of `reduce` (viewEngine's reducer). */
  reduce(keys: unknown, values: unknown[], rereduce?: boolean): unknown;
  /** CouchDB's `sum` (numbers and arrays of numbers). */
  sum(values: unknown[]): unknown;
}

/** Reduces sorted index rows per key. */
function reduceByKey(rows: Array<{ key: unknown; value: unknown }>, fns: ReduceFunctions): KeyReduction[] {
  const { collate } = pouchCollate();
  const out: KeyReduction[] = [];
  let i = 0;
  while (i < rows.length) {
    const key = rows[i]!.key;
    const values: unknown[] = [];
    while (i < rows.length && collate(rows[i]!.key, key) === 0) values.push(rows[i++]!.value);
    out.push({ key, value: fns.reduce(null, values, false) });
  }
  return out;
}

function parseRows(rows: Array<{ id: string; doc?: { _id: string; value?: unknown } }>) {
  const { parseIndexableString } = pouchCollate();
  return rows
    .filter((row) => row.doc)
    .map((row) => ({
      id: row.id,
      key: parseIndexableString(row.id)[0],
      value: row.doc && 'value' in row.doc ? row.doc.value : null,
    }));
}

/** The chunk whose range holds index id `id` (chunks sorted by start; the first starts at ''). */
function chunkOf(chunks: Chunk[], id: string): number {
  let lo = 0;
  let hi = chunks.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (chunks[mid]!.start <= id) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Reads the whole index once, in chunks; the changes after `seq` are taken in by the next read. */
async function build(state: ReduceIndexState, index: IndexDb, fns: ReduceFunctions): Promise<void> {
  const { update_seq } = await index.info();
  const chunks: Chunk[] = [];
  let startkey: string | undefined;
  for (;;) {
    const page = await index.allDocs({
      include_docs: true,
      limit: CHUNK_ROWS + 1,
      ...(startkey === undefined ? {} : { startkey }),
    });
    const rows = parseRows(page.rows.slice(0, CHUNK_ROWS));
    chunks.push({
      start: startkey === undefined ? '' : startkey,
      rows: rows.length,
      keys: reduceByKey(rows, fns),
    });
    const next = page.rows[CHUNK_ROWS];
    if (!next) break;
    startkey = next.id;
  }
  state.chunks = chunks;
  state.seq = update_seq;
}

/** Re-reads chunk `i`; one grown past twice CHUNK_ROWS is split, one left empty joins the one before. */
async function recompute(chunks: Chunk[], i: number, index: IndexDb, fns: ReduceFunctions): Promise<void> {
  const chunk = chunks[i]!;
  const end = chunks[i + 1]?.start;
  const page = await index.allDocs({
    include_docs: true,
    ...(chunk.start ? { startkey: chunk.start } : {}),
    ...(end === undefined ? {} : { endkey: end, inclusive_end: false }),
  });
  const rows = parseRows(page.rows);
  if (rows.length === 0 && i > 0) {
    chunks.splice(i, 1);
    return;
  }
  if (rows.length <= 2 * CHUNK_ROWS) {
    chunks[i] = { start: chunk.start, rows: rows.length, keys: reduceByKey(rows, fns) };
    return;
  }
  const pieces: Chunk[] = [];
  for (let at = 0; at < rows.length; at += CHUNK_ROWS) {
    const part = rows.slice(at, at + CHUNK_ROWS);
    pieces.push({
      start: at === 0 ? chunk.start : part[0]!.id,
      rows: part.length,
      keys: reduceByKey(part, fns),
    });
  }
  chunks.splice(i, 1, ...pieces);
}

/** Takes in the index's changes since the last read; the chunks are then current. */
async function catchUp(state: ReduceIndexState, index: IndexDb, fns: ReduceFunctions): Promise<void> {
  if (!state.chunks) await build(state, index, fns);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const chunks = state.chunks!;
    let changed = false;
    for (;;) {
      const feed = await index.changes({ since: state.seq, limit: CHANGES_PAGE });
      for (const change of feed.results) chunks[chunkOf(chunks, change.id)]!.keys = undefined;
      state.seq = feed.last_seq;
      changed ||= feed.results.length > 0;
      if (feed.results.length < CHANGES_PAGE) break;
    }
    // From the end: a split or a removal moves only the chunks after it. A chunk left out of date
    // by a failed read before is recomputed too.
    for (let i = chunks.length - 1; i >= 0; i--) {
      if (chunks[i]!.keys === undefined) await recompute(chunks, i, index, fns);
    }
    if (!changed) return;
  }
}

export interface ReduceQuery {
  group?: boolean;
  /** For array keys: group by the first N elements. */
  groupLevel?: number;
  descending?: boolean;
  skip?: number;
  limit?: number;
}

/** The answer of a reduce read over the whole view, from the chunks. */
function assemble(state: ReduceIndexState, query: ReduceQuery, fns: ReduceFunctions) {
  const { collate } = pouchCollate();
  const grouped = query.group === true || (query.groupLevel ?? 0) > 0;
  const level = query.groupLevel && query.groupLevel > 0 ? query.groupLevel : Number.POSITIVE_INFINITY;
  const groups: Array<{ key: unknown; values: unknown[] }> = [];
  for (const chunk of state.chunks!) {
    for (const { key, value } of chunk.keys!) {
      const groupKey = !grouped ? null : Array.isArray(key) ? key.slice(0, level) : key;
      const last = groups.at(-1);
      if (last && collate(last.key, groupKey) === 0) last.values.push(value);
      else groups.push({ key: groupKey, values: [value] });
    }
  }
  const rows = groups.map((g) => ({
    key: g.key,
    value: g.values.length === 1 ? g.values[0] : rereduce(state.reduce, g.values, fns.sum),
  }));
  if (query.descending) rows.reverse();
  const skip = query.skip ?? 0;
  const limit = query.limit ?? Number.POSITIVE_INFINITY;
  return { rows: rows.slice(skip, skip + limit) };
}

/**
 * The reduce read `query` of the view whose index is `index`, kept current from the index's
 * changes. `state` belongs to that index: a new index needs a new state.
 */
export function readReduced(
  state: ReduceIndexState,
  index: IndexDb,
  query: ReduceQuery,
  fns: ReduceFunctions,
): Promise<{ rows: KeyReduction[] }> {
  const answer = state.queue.then(async () => {
    await catchUp(state, index, fns);
    // A safety net: when no write came in meanwhile, the chunks count every row of the index.
    const info = await index.info();
    const counted = state.chunks!.reduce((n, c) => n + c.rows, 0);
    if (String(info.update_seq) === String(state.seq) && counted !== info.doc_count) {
      state.chunks = undefined;
      await catchUp(state, index, fns);
    }
    return assemble(state, query, fns);
  });
  state.queue = answer.catch(() => undefined);
  return answer;
}
