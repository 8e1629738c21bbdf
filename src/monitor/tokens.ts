import { LrtError } from '../core';
import { couchError, type PicasDb } from '../picas/client';
import { attemptsOf } from '../picas/protocol';
import { type StoredToken, type TokenDoc, tokenFromDoc } from '../picas/tokenDoc';
import { nextPlace, queryView, type ResolvedView, resolveView, rowsAfter } from '../picas/viewQuery';
import { fetchView } from '../picas/viewRead';
import { chooseLogs } from './logs';
import { failingToken } from './report';

/** One row of the token table of `lrt serve`. */
export interface TokenRow {
  id: string;
  /** The overview state (todo, a running phase, done, error ...). */
  state: string;
  status: string;
  attempts: number;
  scrubCount: number;
  host: string;
  progress?: number;
  exit?: number;
  lastError?: string;
  /** Log attachments of the latest attempt. */
  logs: string[];
}

export function tokenRow(doc: TokenDoc, state: string): TokenRow {
  const failed = state === 'error' ? failingToken(doc) : undefined;
  const progress =
    typeof doc.progress === 'number' && Number.isFinite(doc.progress) ? doc.progress : undefined;
  const exit = typeof doc.exit_code === 'number' ? doc.exit_code : failed?.exit;
  return {
    id: doc._id,
    state,
    status: typeof doc.status === 'string' ? doc.status : '',
    attempts: attemptsOf(doc).length,
    scrubCount: Number(doc.scrub_count) || 0,
    host: typeof doc.hostname === 'string' ? doc.hostname : '',
    ...(progress !== undefined ? { progress } : {}),
    ...(exit !== undefined ? { exit } : {}),
    ...(failed ? { lastError: failed.message } : {}),
    logs: chooseLogs(doc).names,
  };
}

export interface TokenPage {
  rows: TokenRow[];
  limit: number;
  /** Rows matching (all tokens of the type, or those in `state`). */
  total: number;
  /** Ask with `after=next` for the page after this one; null on the last page. */
  next: string | null;
  /** Ask with `before=previous` for the page before this one; null on the first page. */
  previous: string | null;
}

/** Where a page starts: after or before a row (its key and id), as an opaque string. */
interface Cursor {
  key: unknown;
  id: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.key, cursor.id]), 'utf8').toString('base64url');
}

function decodeCursor(text: string): Cursor {
  try {
    const [key, id] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof id === 'string') return { key, id };
  } catch {
    // reported below
  }
  throw new LrtError('E_USAGE', `${JSON.stringify(text)} is not a page cursor of /api/tokens`);
}

/** The state `overview_total` files a token under (its map, in JavaScript). Pure. */
export function overviewState(doc: TokenDoc): string {
  const done = Number(doc.done) > 0;
  const lock = Number(doc.lock) > 0;
  if (done) return doc.status === 'error' ? 'error' : 'done';
  if (lock) return doc.status && doc.status !== 'todo' ? String(doc.status) : 'locked';
  if (doc.status === 'staging') return 'staging';
  if (doc.status === 'error') return 'error';
  return 'todo';
}

/** The states with a view of their own, keyed by token id (one row per key: exact paging). */
const ID_KEYED_STATES = new Set(['todo', 'locked', 'done', 'error']);

interface PageSource {
  /** The view, or undefined for `_all_docs` (every token of the type, by id). */
  view?: ResolvedView;
  /** Query parameters that pick the rows (a key range). */
  range: Record<string, unknown>;
  /** The rows' keys are ids: a cursor is a plain startkey. */
  idKeyed: boolean;
}

async function pageSource(picas: PicasDb, type: string, state: string | undefined): Promise<PageSource> {
  if (!state) return { range: {}, idKeyed: true };
  if (ID_KEYED_STATES.has(state)) {
    return { view: await resolveView(picas, type, state), range: {}, idKeyed: true };
  }
  // A running phase or staging: overview_total's rows of that key, the id breaks the tie.
  return { view: await resolveView(picas, type, 'overview_total'), range: { key: state }, idKeyed: false };
}

interface Row {
  id: string;
  key: unknown;
  doc?: StoredToken | null;
}

/** A row of the page: its token read. */
interface TokenRowOf {
  id: string;
  key: unknown;
  doc: TokenDoc;
}

async function readRows(picas: PicasDb, source: PageSource, params: Record<string, unknown>): Promise<Row[]> {
  if (source.view) return (await queryView(picas, source.view, params)).rows;
  try {
    // nano JSON-encodes startkey for _all_docs as for views
    return ((await picas.db.list(params)) as unknown as { rows: Row[] }).rows;
  } catch (err) {
    throw couchError(picas, `list the documents of ${picas.name}`, err);
  }
}

/**
 * Up to `want` rows from `cursor` on in one direction, the cursor row itself left out, each read
 * starting at the cursor by key (`startkey`, and `startkey_docid` where keys repeat): no `skip`,
 * so a deep page costs what the first does. Rows of other types (`_all_docs`) are passed over.
 */
async function rowsFrom(
  picas: PicasDb,
  type: string,
  source: PageSource,
  cursor: Cursor | undefined,
  descending: boolean,
  want: number,
): Promise<TokenRowOf[]> {
  const out: TokenRowOf[] = [];
  let from = cursor;
  const ask = Math.max(want + 1, 50) + 1;
  for (;;) {
    const params: Record<string, unknown> = { ...source.range, include_docs: true, limit: ask };
    if (descending) params.descending = true;
    if (from) {
      if (source.idKeyed) params.startkey = from.id;
      else {
        delete params.key;
        Object.assign(params, { startkey: from.key, endkey: from.key, startkey_docid: from.id });
      }
    }
    const rows = await readRows(picas, source, params);
    for (const row of rowsAfter(rows, from)) {
      if (row.doc && row.doc.type === type && !row.id.startsWith('_design/')) {
        out.push({ id: row.id, key: row.key, doc: tokenFromDoc(row.doc) });
      }
      if (out.length >= want) return out;
    }
    if (rows.length < ask) return out;
    from = nextPlace(rows.at(-1), from, `read the tokens of type ${type}`);
  }
}

/**
 * A page of the token table of `lrt serve`, paged by key both ways: `after` (the `next` of a
 * page) gives the page after, `before` (its `previous`) the page before, neither the first page.
 * All tokens come from `_all_docs` by id, todo/locked/done/error from their views (keyed by id),
 * a running phase from `overview_total` (keyed by state, then id).
 */
/** The most rows one page of the token table holds. */
export const TOKEN_PAGE_MAX = 500;

export async function readTokenPage(
  picas: PicasDb,
  type: string,
  options: { state?: string; after?: string; before?: string; limit?: number } = {},
): Promise<TokenPage> {
  const limit = Math.min(TOKEN_PAGE_MAX, Math.max(1, options.limit ?? 100));
  const overview = await resolveView(picas, type, 'overview_total');
  const source = await pageSource(picas, type, options.state);
  const backwards = options.before !== undefined;
  const cursor = options.before ?? options.after;
  // One row more than the page tells whether there is another page that way.
  const got = await rowsFrom(
    picas,
    type,
    source,
    cursor ? decodeCursor(cursor) : undefined,
    backwards,
    limit + 1,
  );
  const more = got.length > limit;
  const rows = backwards ? got.slice(0, limit).reverse() : got.slice(0, limit);
  const first = rows[0];
  const last = rows.at(-1);
  const cursorOf = (row: TokenRowOf | undefined) => (row ? encodeCursor({ key: row.key, id: row.id }) : null);
  const hasAfter = backwards ? true : more;
  const hasBefore = backwards ? more : cursor !== undefined;
  const total = options.state
    ? await stateCount(picas, overview, options.state)
    : await stateCount(picas, overview);
  return {
    rows: rows.map((r) => tokenRow(r.doc, overviewState(r.doc))),
    limit,
    total,
    next: hasAfter && rows.length > 0 ? cursorOf(last) : null,
    previous: hasBefore && rows.length > 0 ? cursorOf(first) : null,
  };
}

/** Tokens in one state (or of the type), through the reduce. */
async function stateCount(picas: PicasDb, overview: ResolvedView, state?: string): Promise<number> {
  try {
    const answer = await fetchView(
      picas,
      overview.designDoc,
      overview.view,
      state === undefined ? {} : { key: state, group: true },
    );
    return Number(answer.rows[0]?.value ?? 0) || 0;
  } catch (err) {
    throw couchError(picas, `count ${state ?? 'all'} tokens of type ${overview.type}`, err);
  }
}
