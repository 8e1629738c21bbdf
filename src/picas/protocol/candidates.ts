import { LrtError } from '../../core';
import { couchError, missingOf, type PicasDb, statusOf } from '../client';
import { type TokenDoc, tokenFromDoc } from '../tokenDoc';
import { claimDesignDocName, customDesignDocName, SPREAD_KEYS, SPREAD_VIEW } from '../viewDefinitions';
import { fetchView } from '../viewRead';

/*
 * The read side of the claim (claim.ts): a page of a token view with the docs, and the candidate
 * cache with which a pilot reads the view once per page instead of once per claim.
 */

/**
 * What a claimer keeps between claims: the unused candidates of its last page, while they are
 * young, and which view it reads. A view read costs the server far more than a PUT, so a claimer
 * reads a page per several claims, not one per claim; but a candidate read is only worth a PUT
 * while nobody else took it, so the page is dropped when it gets old or at the first lost race.
 */
export interface CandidateCache {
  docs: TokenDoc[];
  /** Epoch ms of the read. */
  readAt: number;
  /** The view's row count at the last read (random windows of a view without spread keys). */
  totalRows: number;
  /**
   * The last row of the last page of a view without spread keys: the next page starts there
   * (startkey + startkey_docid).
   */
  cursor?: ViewCursor;
  /** The view claimed from, once known: `todo_spread`, or `todo` where there is no `todo_spread`. */
  view?: TodoView;
  /** Moving average of the claim PUTs' round trips, ms: how long a race pause lasts. */
  writeMs?: number;
  /** Claimable candidates the last page had (the rows of tokens claimed since left out). */
  pageRows?: number;
}

export interface ViewCursor {
  key: unknown;
  id: string;
}

/** A view of a token type: its design document (the name after `_design/`) and its name. */
export interface ViewRef {
  type: string;
  designDoc: string;
  name: string;
}

/** A view of the type's own design document, `_design/<type>`. */
export function typeView(type: string, name: string): ViewRef {
  return { type, designDoc: type, name };
}

/** A custom view (`lrt views add`) of `_design/views:<type>`. */
export function customView(type: string, name: string): ViewRef {
  return { type, designDoc: customDesignDocName(type), name };
}

/** `todo_spread` of the claim's design document, `_design/claim:<type>`. */
export function spreadTodoView(type: string): TodoView {
  return { type, designDoc: claimDesignDocName(type), name: SPREAD_VIEW, spread: true };
}

export interface TodoView extends ViewRef {
  /** Keyed by spreadKey(_id): random windows are random start keys. */
  spread: boolean;
}

export function newCandidateCache(): CandidateCache {
  return { docs: [], readAt: 0, totalRows: 0 };
}

/** The page a pilot with a candidate cache reads: big enough that concurrent pilots rarely overlap. */
export const CACHED_CLAIM_PAGE_SIZE = 25;

/** Windows of a view without spread keys start at most this deep (`skip` walks the skipped rows). */
const MAX_WINDOW_SKIP = 2000;

/**
 * A read that does not wait for the index and has it updated after answering (CouchDB 3's names;
 * `stale=update_after` before; the embedded server maps them): rows may be stale, the docs of
 * include_docs are current, so a row of a token claimed since costs no PUT.
 */
export const LAZY_READ = { stable: true, update: 'lazy' } as const;

/** Fisher-Yates with the injected rng. */
export function shuffle<T>(items: T[], rng: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export async function readView(
  picas: PicasDb,
  view: ViewRef,
  qs: Record<string, unknown>,
  signal: AbortSignal | undefined,
) {
  try {
    const body = await fetchView(picas, view.designDoc, view.name, { include_docs: true, ...qs }, signal);
    const all = body.rows;
    const last = all[all.length - 1];
    const rows = all.flatMap((r) => (r.doc ? [{ ...r, doc: tokenFromDoc(r.doc) }] : []));
    return {
      rows,
      /** Rows returned, those without a document (deleted since) included. */
      count: all.length,
      totalRows: typeof body.total_rows === 'number' ? body.total_rows : rows.length,
      end: last ? ({ key: last.key, id: last.id } satisfies ViewCursor) : undefined,
    };
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    if (statusOf(err) === 404) {
      const missing = missingOf(err);
      const fix =
        missing === 'view'
          ? `_design/${view.designDoc} has no view named ${view.name}; 'lrt views list --type ${view.type}' lists the views there, 'lrt views add' makes one`
          : missing === 'database'
            ? `database ${picas.name} does not exist`
            : `_design/${view.designDoc} does not exist: create the views of token type ${view.type} first (lrt tokens create)`;
      throw new LrtError(
        missing === 'database' ? 'E_DB_NOT_FOUND' : 'E_VIEW_NOT_FOUND',
        `view ${view.name} of _design/${view.designDoc} not found in ${picas.name} (HTTP 404): ${fix}`,
        {
          details: { database: picas.name, type: view.type, designDoc: view.designDoc, view: view.name },
          cause: err,
        },
      );
    }
    throw couchError(picas, `read view ${view.designDoc}/${view.name}`, err);
  }
}

export interface TodoRead {
  qs: Record<string, unknown>;
  /** The cursor row, which comes back first when still indexed: not a new candidate. */
  after?: ViewCursor;
  /** The start key of an up-to-date spread window: a short page goes on at the top of the view. */
  wrapFrom?: number;
  /** A read of the up-to-date index: empty means nothing is left to claim. */
  upToDate?: boolean;
}

/**
 * The reads of a todo step, in order until one yields a claim: two random windows from the index
 * as it stands (LAZY_READ), then a random window of the up-to-date index, which alone can tell
 * that the view is empty. On a spread view a random window is a random start key: tokens are
 * spread evenly over the keys, so claimers start at random places without a `skip`, which CouchDB
 * pays for row by row; the up-to-date window goes on at the top when it reaches the end of the
 * keys (so that it sees every row before it says the view is empty). On another view (`todo` of
 * an older design document, a view given with --view) it is a bounded `skip`, and a page used up
 * without a race is followed first by the page after it (the cursor).
 */
export function todoReads(
  cache: CandidateCache,
  view: TodoView,
  s: { pageSize: number; rng: () => number },
): TodoRead[] {
  const randomWindow = (lazy: boolean): TodoRead => {
    const stale = lazy ? LAZY_READ : {};
    if (view.spread) {
      const start = Math.floor(s.rng() * SPREAD_KEYS);
      // Only the up-to-date window goes on at the top when short: a stale index may be one still
      // being built, whose top is where every claimer starting together would go.
      return {
        qs: { startkey: start, limit: s.pageSize, ...stale },
        upToDate: !lazy,
        ...(lazy ? {} : { wrapFrom: start }),
      };
    }
    const room = Math.min(MAX_WINDOW_SKIP, Math.max(0, cache.totalRows - s.pageSize));
    const skip = lazy ? Math.floor(s.rng() * (room + 1)) : 0;
    return { qs: { limit: s.pageSize, ...(skip > 0 ? { skip } : {}), ...stale }, upToDate: !lazy };
  };
  const reads: TodoRead[] = [];
  const cursor = cache.cursor;
  if (cursor && cursor.key !== undefined) {
    // The cursor's own row comes back first when it is still indexed: one more row covers it.
    const qs = { startkey: cursor.key, startkey_docid: cursor.id, limit: s.pageSize + 1, ...LAZY_READ };
    reads.push({ qs, after: cursor });
  }
  reads.push(randomWindow(true), randomWindow(true), randomWindow(false));
  return reads;
}

/**
 * One read of todoReads; a spread window that reached the end of the keys with room left goes on
 * from the top of the view, up to its own start key, when the view has more rows.
 */
export async function readTodoPage(
  picas: PicasDb,
  view: TodoView,
  read: TodoRead,
  signal: AbortSignal | undefined,
) {
  const page = await readView(picas, view, read.qs, signal);
  const limit = Number(read.qs.limit);
  const more = page.totalRows > page.count;
  if (read.wrapFrom === undefined || page.count >= limit || read.wrapFrom === 0 || !more) return page;
  const { startkey: _from, ...rest } = read.qs;
  const qs = { ...rest, endkey: read.wrapFrom, inclusive_end: false, limit: limit - page.count };
  const top = await readView(picas, view, qs, signal);
  return {
    rows: [...page.rows, ...top.rows],
    count: page.count + top.count,
    totalRows: top.totalRows,
    end: top.end ?? page.end,
  };
}
