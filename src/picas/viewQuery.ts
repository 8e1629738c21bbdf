import { LrtError } from '../core';
import { couchError, type PicasDb, statusOf } from './client';
import {
  assertDatabaseExists,
  readCustomDesignDoc,
  readDesignDoc,
  readFinishedDesignDoc,
} from './designDocStore';
import { FINISHED_VIEW_NAMES, finishedDesignName } from './finishedViews';
import { type TokenDoc, tokenFromDoc } from './tokenDoc';
import {
  assertTokenType,
  customDesignDocName,
  type DesignDoc,
  designDocId,
  standardViews,
} from './viewDefinitions';
import { fetchView, type ViewAnswer, type ViewRow } from './viewRead';

export const DEFAULT_PAGE_SIZE = 500;

export interface ResolvedView {
  type: string;
  view: string;
  /** The design document's name after `_design/`: the type, or `finished:<type>`. */
  designDoc: string;
  /** The view has a reduce: row queries need `reduce=false`. */
  reduce: boolean;
}

const VIEW_NAME = /^[^\s/?#%\x00-\x1f\x7f]+$/;

/** Any name CouchDB accepts as a view, minus what would break the URL path. */
export function assertViewNameSafe(view: string): void {
  if (!VIEW_NAME.test(view)) {
    throw new LrtError(
      'E_USAGE',
      `invalid view name ${JSON.stringify(view)}: no spaces, '/', '?', '#' or '%'`,
    );
  }
}

function viewNotFound(picas: PicasDb, type: string, view: string, existing: string[] | undefined): LrtError {
  const ddoc = designDocId(type);
  const where = `${ddoc} in database ${picas.name}`;
  const message = existing
    ? `view "${view}" not found in ${where}; views there: ${existing.length ? existing.join(', ') : '(none)'}`
    : `view "${view}" not found: ${ddoc} does not exist in database ${picas.name} (no tokens of type ${type} set up?)`;
  return new LrtError('E_VIEW_NOT_FOUND', message, {
    details: { database: picas.name, designDoc: ddoc, view, views: existing ?? [] },
  });
}

function reduces(source: { reduce?: string } | undefined): boolean {
  return typeof source?.reduce === 'string' && source.reduce !== '';
}

/**
 * Checks that `_design/<type>` has `view` and tells whether it reduces. `done`, `error`,
 * `overview_total` and `taken_over` come from `_design/finished:<type>` when it has them
 * (finishedViews.ts: finished as every tool writes it); a custom view from `_design/views:<type>`
 * (`lrt views add`), else from `_design/<type>` where older versions put it. Throws E_VIEW_NOT_FOUND naming the design
 * doc and listing the views that exist, or E_DB_NOT_FOUND.
 */
export async function resolveView(picas: PicasDb, type: string, view: string): Promise<ResolvedView> {
  assertTokenType(type);
  assertViewNameSafe(view);
  if ((FINISHED_VIEW_NAMES as readonly string[]).includes(view)) {
    const finished = (await readFinishedDesignDoc(picas, type))?.views?.[view];
    if (finished) return { type, view, designDoc: finishedDesignName(type), reduce: reduces(finished) };
  }
  if (!(view in standardViews(type))) {
    const custom = (await readCustomDesignDoc(picas, type))?.views?.[view];
    if (custom) return { type, view, designDoc: customDesignDocName(type), reduce: reduces(custom) };
  }
  const ddoc = await readDesignDoc(picas, type);
  if (!ddoc) {
    await assertDatabaseExists(picas);
    throw viewNotFound(picas, type, view, undefined);
  }
  const source = ddoc.views?.[view];
  if (!source) throw viewNotFound(picas, type, view, await viewNamesOf(picas, type, ddoc));
  return { type, view, designDoc: type, reduce: reduces(source) };
}

/** The views a reader can name: those of `_design/<type>` and the custom ones of `_design/views:<type>`. */
async function viewNamesOf(picas: PicasDb, type: string, ddoc: DesignDoc | undefined): Promise<string[]> {
  const custom = await readCustomDesignDoc(picas, type);
  return [...new Set([...Object.keys(ddoc?.views ?? {}), ...Object.keys(custom?.views ?? {})])].sort();
}

/** One view query; a 404 (view removed meanwhile) becomes E_VIEW_NOT_FOUND. */
export async function queryView(
  picas: PicasDb,
  resolved: ResolvedView,
  params: Record<string, unknown>,
): Promise<ViewAnswer> {
  const { type, view } = resolved;
  const qs = resolved.reduce ? { ...params, reduce: false } : params;
  try {
    return await fetchView(picas, resolved.designDoc, view, qs);
  } catch (err) {
    if (statusOf(err) === 404) {
      const ddoc = await readDesignDoc(picas, type);
      throw viewNotFound(picas, type, view, ddoc ? await viewNamesOf(picas, type, ddoc) : undefined);
    }
    throw couchError(picas, `query view ${view} of _design/${resolved.designDoc}`, err);
  }
}

export interface ViewPage {
  rows: ViewRow[];
  /** Rows in the whole view when the page was read (for progress). */
  totalRows: number;
}

export interface PageOptions {
  pageSize?: number;
  includeDocs?: boolean;
  /** Only the rows of this key (`startkey`..`endkey`), e.g. one status of `overview_total`. */
  key?: unknown;
}

/** Where a row stands in a view: its key and doc id, where a walk by key goes on from. */
export interface RowPlace {
  key: unknown;
  id: string;
}

function samePlace(a: RowPlace, b: RowPlace): boolean {
  return a.id === b.id && JSON.stringify(a.key) === JSON.stringify(b.key);
}

/**
 * The rows of a read from `start` (`startkey` + `startkey_docid`) that come after it: CouchDB,
 * the embedded server and the cluster stand-in start such a read at the start row itself, which
 * comes back first while it is still in the view (docs/couchdb-rules.md rule 20).
 */
export function rowsAfter<R extends RowPlace>(rows: R[], start: RowPlace | undefined): R[] {
  if (!start) return rows;
  let i = 0;
  while (i < rows.length && samePlace(rows[i]!, start)) i++;
  return rows.slice(i);
}

/**
 * Where a walk goes on after a full page ending at `last`. A full page that ends where it started
 * comes from a server that ignores `startkey_docid` (pouchdb-server): the walk would never end.
 */
export function nextPlace(last: RowPlace | undefined, start: RowPlace | undefined, what: string): RowPlace {
  if (!last || (start && samePlace(last, start))) {
    throw new LrtError(
      'E_DB',
      `${what}: the server answered a full page with no row after key ${JSON.stringify(start?.key)}, ` +
        `doc ${start?.id}: it ignores startkey_docid (pouchdb-server does); use Apache CouchDB 3 or lrt db serve`,
    );
  }
  return { key: last.key, id: last.id };
}

/**
 * The rows of a view, page by page, without `skip`: each page starts at the last row's key and
 * doc id (`startkey` + `startkey_docid`), so a page costs the same at the millionth row as at the
 * first, also inside one key of a million rows, and rows that leave the view while we page
 * (because we just reset them) move nothing. Only the start row comes again: a doc is yielded
 * once, and a walk keeps nothing but its place.
 */
export async function* viewPages(
  picas: PicasDb,
  resolved: ResolvedView,
  options: PageOptions = {},
): AsyncGenerator<ViewPage> {
  const pageSize = Math.max(1, options.pageSize ?? DEFAULT_PAGE_SIZE);
  let start: RowPlace | undefined;
  for (;;) {
    // From the second page on, the first row is usually the last one seen: ask for one more.
    const ask = start ? pageSize + 1 : pageSize;
    const params: Record<string, unknown> = { limit: ask, include_docs: options.includeDocs === true };
    if (options.key !== undefined) Object.assign(params, { startkey: options.key, endkey: options.key });
    if (start) Object.assign(params, { startkey: start.key, startkey_docid: start.id });
    const answer = await queryView(picas, resolved, params);
    // The start row may be gone (deleted or changed by the work on the page before): then every
    // row is new, and the one too many waits for the next page, so pages stay pageSize long.
    const page = rowsAfter(answer.rows, start).slice(0, pageSize);
    const full = answer.rows.length >= ask;
    const next = full ? nextPlace(page.at(-1), start, `read view ${resolved.view}`) : undefined;
    if (page.length > 0) yield { rows: page, totalRows: answer.total_rows ?? 0 };
    if (!next) return;
    start = next;
  }
}

export interface ListOptions extends PageOptions {
  /** Stop after this many tokens. */
  limit?: number;
}

/** The tokens of a view, as rows (with `doc` when `includeDocs`), paged underneath. */
export async function listTokens(
  picas: PicasDb,
  type: string,
  view: string,
  options: ListOptions = {},
): Promise<ViewRow[]> {
  const out: ViewRow[] = [];
  for await (const row of viewRows(picas, await resolveView(picas, type, view), options)) out.push(row);
  return out;
}

/** The rows of a view one at a time, paged underneath: never more than a page in memory. */
export async function* viewRows(
  picas: PicasDb,
  resolved: ResolvedView,
  options: ListOptions = {},
): AsyncGenerator<ViewRow> {
  let count = 0;
  const pageSize = Math.min(options.pageSize ?? DEFAULT_PAGE_SIZE, options.limit ?? Number.POSITIVE_INFINITY);
  for await (const page of viewPages(picas, resolved, { ...options, pageSize })) {
    for (const row of page.rows) {
      if (options.limit !== undefined && count >= options.limit) return;
      count += 1;
      yield row;
    }
  }
}

/** Re-reads `ids` through the view by the keys they had: a doc that left the view is absent. */
export async function rereadThroughView(
  picas: PicasDb,
  resolved: ResolvedView,
  keysById: Map<string, unknown>,
  ids: string[],
): Promise<TokenDoc[]> {
  const wanted = new Set(ids);
  const keys = [...new Map(ids.map((id) => [JSON.stringify(keysById.get(id)), keysById.get(id)])).values()];
  if (keys.length === 0) return [];
  const answer = await queryView(picas, resolved, { keys, include_docs: true });
  const docs = new Map<string, TokenDoc>();
  for (const row of answer.rows) if (wanted.has(row.id) && row.doc) docs.set(row.id, tokenFromDoc(row.doc));
  return [...docs.values()];
}

/** Where the overview counts come from (see tokenOverview). */
export async function overviewSource(picas: PicasDb, type: string): Promise<ResolvedView> {
  if (reduces((await readFinishedDesignDoc(picas, type))?.views?.overview_total)) {
    return { type, view: 'overview_total', designDoc: finishedDesignName(type), reduce: true };
  }
  const ddoc = await readDesignDoc(picas, type);
  if (!ddoc) {
    await assertDatabaseExists(picas);
    throw viewNotFound(picas, type, 'overview_total', undefined);
  }
  const views = ddoc.views ?? {};
  const name = ['overview_total', 'overview_view'].find((v) => reduces(views[v]));
  if (!name) throw viewNotFound(picas, type, 'overview_total', Object.keys(views).sort());
  return { type, view: name, designDoc: type, reduce: true };
}

/** Token states that always appear in an overview, even at 0. */
export const OVERVIEW_STATES = ['todo', 'locked', 'done', 'error', 'staging'] as const;

/**
 * Counts per state from `overview_total` (group=true): `_design/finished:<type>`'s, else
 * `_design/<type>`'s, else GRID_LRT 1.0's `overview_view` when only that exists:
 * `{todo, locked, done, error, staging, <phases>...: n}`.
 */
export async function tokenOverview(picas: PicasDb, type: string): Promise<Record<string, number>> {
  assertTokenType(type);
  const source = await overviewSource(picas, type);
  let answer: ViewAnswer;
  try {
    answer = await fetchView(picas, source.designDoc, source.view, { group: true });
  } catch (err) {
    throw couchError(picas, `query view ${source.view} of _design/${source.designDoc}`, err);
  }
  const counts: Record<string, number> = Object.fromEntries(OVERVIEW_STATES.map((s) => [s, 0]));
  for (const row of answer.rows) {
    const state = typeof row.key === 'string' ? row.key : JSON.stringify(row.key);
    const n = Number(row.value);
    if (Number.isFinite(n)) counts[state] = (counts[state] ?? 0) + n;
  }
  return counts;
}
