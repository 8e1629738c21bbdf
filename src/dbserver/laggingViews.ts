import { type AllDocsDb, attachDocs, type ViewRow } from './rangeRead';
import { isTrue, type KeyRange, pouchCollate, rangesOf } from './viewRange';

/*
 * `lrt db serve --lagging-views MS` (startEmbeddedCouch `laggingViewsMs`): view reads that behave
 * like Apache CouchDB's under write load, for tuning the claim. pouchdb-abstract-mapreduce answers
 * the reads of a view one at a time, each behind the index update before it, so two claimers never
 * read the index at the same moment and every read sees every write made before it. CouchDB
 * answers reads concurrently, and under load its index trails the writes. Here:
 *
 * - each database keeps one changes feed; a change enters the views only once it is MS old (the
 *   documents that were there when the feed started enter at once), so a view lists tokens that
 *   were claimed up to MS ago and misses tokens made less than MS ago;
 * - reads are answered from that in-memory index at once, in parallel, never queued behind each
 *   other or behind an update; the documents of `include_docs` are read when the row is answered
 *   (current, as on CouchDB);
 * - a read that asks for an up-to-date index (no `stale`, `update=true`) first has the index take
 *   in every change made before it, as CouchDB's indexer catches up when a reader waits for it;
 *   the reads that do not wait (`stale=ok|update_after`, `update=false|lazy`) see the lag.
 *
 * Map views only: a read that reduces goes to the ordinary (queued, not lagging) engine.
 */
/** What of a PouchDB database this uses (pouchdb-core ships no types). */
export interface LaggingSourceDb extends AllDocsDb {
  name: string;
  constructor: unknown;
  info(): Promise<{ update_seq: number | string }>;
  get(id: string): Promise<{ views?: Record<string, { map?: unknown; reduce?: unknown }> }>;
  changes(opts: Record<string, unknown>): ChangesFeed;
  once(event: string, listener: () => void): void;
}

interface ChangesFeed {
  on(event: 'change', listener: (change: Change) => void): ChangesFeed;
  on(event: 'error', listener: (err: unknown) => void): ChangesFeed;
  cancel(): void;
}

interface Change {
  id: string;
  seq: number;
  deleted?: boolean;
  doc?: Record<string, unknown>;
}

interface Row {
  key: unknown;
  id: string;
  value: unknown;
}

/** viewEngine.ts's `mapper`: a view's map function bound to an emit. */
export type Mapper = (
  source: unknown,
  emit: (key: unknown, value: unknown) => void,
) => (doc: unknown) => unknown;

interface ViewIndex {
  rows: Row[];
  byId: Map<string, Row[]>;
  map: (doc: unknown) => unknown;
  emitted: Row[];
}

interface Pending {
  /** Epoch ms the change was seen; 0: it was in the database before the feed started. */
  at: number;
  change: Change;
}

/** One database's lagging state: the feed, the documents as the views see them, the views. */
interface LaggingDb {
  lagMs: number;
  feed: ChangesFeed | undefined;
  /** The documents as of the last change applied (what a new view is built from). */
  docs: Map<string, Record<string, unknown>>;
  views: Map<string, ViewIndex>;
  pending: Pending[];
  appliedSeq: number;
  timer: NodeJS.Timeout | undefined;
  waiters: Array<{ seq: number; done: () => void }>;
  /** Settles once the feed is started (the changes before it count as old). */
  ready: Promise<void>;
  stopped: boolean;
}

/** Per database handle; per server (PouchDB constructor) for stopping them all at close. */
const states = new WeakMap<object, LaggingDb>();
const byServer = new WeakMap<object, Set<LaggingDb>>();

function compareRows(a: { key: unknown; id: string }, b: { key: unknown; id: string }): number {
  const byKey = pouchCollate().collate(a.key, b.key);
  if (byKey !== 0) return byKey;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** How many leading rows `before` holds for (rows sorted by compareRows, `before` monotone). */
function lowerBound(rows: Row[], before: (row: Row) => boolean): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(rows[mid]!)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function removeRows(view: ViewIndex, id: string): void {
  const old = view.byId.get(id);
  if (!old) return;
  for (const row of old) {
    const at = lowerBound(view.rows, (r) => compareRows(r, row) < 0);
    for (let i = at; i < view.rows.length && compareRows(view.rows[i]!, row) === 0; i++) {
      if (view.rows[i] === row) {
        view.rows.splice(i, 1);
        break;
      }
    }
  }
  view.byId.delete(id);
}

function indexDoc(view: ViewIndex, id: string, doc: Record<string, unknown> | undefined): void {
  removeRows(view, id);
  if (!doc || id.startsWith('_')) return;
  view.emitted = [];
  try {
    view.map(doc);
  } catch {
    // As CouchDB: a map function that throws on a document leaves that document out.
  }
  const rows = view.emitted;
  view.emitted = [];
  if (rows.length === 0) return;
  for (const row of rows) {
    const at = lowerBound(view.rows, (r) => compareRows(r, row) <= 0);
    view.rows.splice(at, 0, row);
  }
  view.byId.set(id, rows);
}

function newView(state: LaggingDb, mapSource: unknown, mapper: Mapper): ViewIndex {
  const { normalizeKey } = pouchCollate();
  const view: ViewIndex = { rows: [], byId: new Map(), emitted: [], map: () => undefined };
  let current = '';
  const emit = (key: unknown, value: unknown) => {
    // Keys and values cross from the view function's own context: keep plain JSON copies.
    const plain = (v: unknown) => (v === undefined ? null : JSON.parse(JSON.stringify(v)));
    view.emitted.push({ key: normalizeKey(plain(key)), id: current, value: plain(value) });
  };
  const map = mapper(mapSource, emit);
  view.map = (doc) => {
    current = String((doc as { _id: string })._id);
    return map(doc);
  };
  for (const [id, doc] of state.docs) indexDoc(view, id, doc);
  return view;
}

/** Applies the pending changes that are lagMs old by `now`, or (upTo) every one up to that seq. */
function apply(state: LaggingDb, now: number, upTo?: number): void {
  if (state.stopped) return;
  const due = (p: Pending) => (upTo !== undefined ? p.change.seq <= upTo : p.at + state.lagMs <= now);
  let applied = 0;
  while (applied < state.pending.length && due(state.pending[applied]!)) {
    const { change } = state.pending[applied++]!;
    const doc = change.deleted ? undefined : change.doc;
    if (doc) state.docs.set(change.id, doc);
    else state.docs.delete(change.id);
    for (const view of state.views.values()) indexDoc(view, change.id, doc);
    state.appliedSeq = Math.max(state.appliedSeq, change.seq);
  }
  if (applied > 0) state.pending.splice(0, applied);
}

/** A change arrived: an up-to-date read waiting for it catches the index up now. */
function arrived(state: LaggingDb, seq: number): void {
  const ready = state.waiters.filter((w) => w.seq <= seq);
  if (ready.length === 0) return;
  state.waiters = state.waiters.filter((w) => w.seq > seq);
  apply(state, Date.now(), Math.max(...ready.map((w) => w.seq)));
  for (const w of ready) w.done();
}

function schedule(state: LaggingDb): void {
  if (state.timer || state.stopped || state.pending.length === 0) return;
  const due = state.pending[0]!.at + state.lagMs - Date.now();
  state.timer = setTimeout(
    () => {
      state.timer = undefined;
      apply(state, Date.now());
      schedule(state);
    },
    Math.max(0, due),
  );
  state.timer.unref();
}

function stop(state: LaggingDb): void {
  state.stopped = true;
  state.feed?.cancel();
  if (state.timer) clearTimeout(state.timer);
  for (const w of state.waiters) w.done();
  state.waiters = [];
}

function laggingDb(db: LaggingSourceDb, lagMs: number): LaggingDb {
  const existing = states.get(db);
  if (existing && !existing.stopped) return existing;
  const state: LaggingDb = {
    lagMs,
    feed: undefined,
    docs: new Map(),
    views: new Map(),
    pending: [],
    appliedSeq: 0,
    timer: undefined,
    waiters: [],
    ready: Promise.resolve(),
    stopped: false,
  };
  states.set(db, state);
  const server = db.constructor as object;
  if (!byServer.has(server)) byServer.set(server, new Set());
  byServer.get(server)!.add(state);
  db.once('destroyed', () => {
    stop(state);
    byServer.get(server)?.delete(state);
  });
  state.ready = db.info().then((info) => {
    // Changes up to here were made before anyone read a view here: they count as old.
    const before = Number(info.update_seq);
    if (state.stopped) return;
    state.feed = db
      .changes({ live: true, since: 0, include_docs: true, style: 'main_only', return_docs: false })
      .on('change', (change) => {
        state.pending.push({ at: change.seq <= before ? 0 : Date.now(), change });
        arrived(state, change.seq);
        schedule(state);
      })
      .on('error', () => stop(state));
  });
  return state;
}

/**
 * An up-to-date read: the index takes in every change made before the read, at once (CouchDB's
 * indexer catches up when a reader asks it to), once the feed has delivered them.
 */
async function catchUp(state: LaggingDb, db: LaggingSourceDb): Promise<void> {
  const seq = Number((await db.info()).update_seq);
  if (seq <= state.appliedSeq || state.stopped) return;
  const last = state.pending.at(-1);
  if (last && last.change.seq >= seq) {
    apply(state, Date.now(), seq);
    return;
  }
  await new Promise<void>((done) => state.waiters.push({ seq, done }));
}

type QueryOptions = Record<string, unknown>;

function wantsUpToDate(opts: QueryOptions): boolean {
  return opts.stale !== 'ok' && opts.stale !== 'update_after';
}

/** The rows of `range` in a sorted index (compareRows' order): [from, to). */
function rowsInRange(rows: Row[], range: KeyRange): [number, number] {
  const { collate } = pouchCollate();
  const before = (bound: unknown[]) => (r: Row) => collate([r.key, r.id], bound) < 0;
  const from = range.low ? lowerBound(rows, before(range.low)) : 0;
  const to = range.high ? lowerBound(rows, before(range.high)) : rows.length;
  return [from, Math.max(from, to)];
}

/** The rows a read selects (viewRange.ts), with CouchDB's offset: rows before the first one. */
function selectRows(rows: Row[], opts: QueryOptions): { offset: number; rows: Row[] } {
  const descending = isTrue(opts.descending);
  const picked: Row[] = [];
  let offset: number | undefined;
  for (const range of rangesOf(opts)) {
    const [from, to] = rowsInRange(rows, range);
    const part = rows.slice(from, to);
    if (descending) part.reverse();
    offset ??= descending ? rows.length - to : from;
    picked.push(...part);
  }
  const skip = Number(opts.skip ?? 0) || 0;
  const limit = typeof opts.limit === 'number' ? opts.limit : undefined;
  const page = picked.slice(skip, limit === undefined ? undefined : skip + limit);
  return { offset: Array.isArray(opts.keys) ? 0 : (offset ?? 0) + skip, rows: page };
}

/**
 * Answers a map-view read from the lagging index, or returns undefined for a read this mode does
 * not serve (a reduce): the caller then asks the ordinary engine.
 */
export async function laggingQuery(
  db: LaggingSourceDb,
  viewPath: string,
  opts: QueryOptions,
  lagMs: number,
  mapper: Mapper,
): Promise<Record<string, unknown> | undefined> {
  const [ddocName, viewName = ddocName] = viewPath.split('/') as [string, string?];
  const ddoc = await db.get(`_design/${ddocName}`);
  const source = ddoc.views?.[viewName];
  if (!source || typeof source.map !== 'string') return undefined;
  if (source.reduce && opts.reduce !== false) return undefined;
  const state = laggingDb(db, lagMs);
  await state.ready;
  if (wantsUpToDate(opts)) await catchUp(state, db);
  let view = state.views.get(source.map);
  if (!view) {
    view = newView(state, source.map, mapper);
    state.views.set(source.map, view);
  }
  const all = view.rows;
  const selected = selectRows(all, opts);
  const rows: ViewRow[] = selected.rows.map((r) => ({ ...r }));
  const result: Record<string, unknown> = { total_rows: all.length, offset: selected.offset, rows };
  if (opts.update_seq) result.update_seq = state.appliedSeq;
  if (opts.include_docs) await attachDocs(db, rows, opts);
  return result;
}

/** Stops the feeds of every database of one server (its PouchDB constructor), at close. */
export function stopLaggingViews(server: object): void {
  for (const state of byServer.get(server) ?? []) stop(state);
  byServer.delete(server);
}
