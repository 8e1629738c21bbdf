import { createRequire } from 'node:module';
import vm from 'node:vm';
import { withTimeout } from '../core/backoff';
import { type LaggingSourceDb, laggingQuery } from './laggingViews';
import { type AllDocsDb, readIndexRange } from './rangeRead';
import {
  builtInReduceName,
  type IndexDb,
  newReduceIndexState,
  type ReduceIndexState,
  type ReduceQuery,
  readReduced,
} from './reduceIndex';
import { isFalse, isTrue, pouchCollate, pouchMisreadsRange } from './viewRange';

/*
 * The map/reduce plugin of the embedded server: pouchdb-abstract-mapreduce (the index logic of
 * pouchdb-mapreduce) with our own function evaluation. pouchdb-mapreduce builds a source string
 * with the document in it and runs it in a NEW vm context for every document it maps: a context
 * costs about a millisecond, so indexing the tokens claimed since the last view read was the
 * server's main cost per claim. Here each design-document function is compiled once, in a
 * context of its own (as CouchDB keeps one query server per design document), and called per
 * document with a copy of it parsed inside that context.
 */
const requireCjs = createRequire(__filename);

type Emit = (key: unknown, value: unknown) => void;
type MapFunction = (doc: unknown) => unknown;
type ReduceFunction = (keys: unknown, values: unknown, rereduce?: boolean) => unknown;

/** Globals CouchDB gives view functions (log, isArray, toJSON, sum); emit forwards to the host. */
const PRELUDE = `"use strict";
var __emit__ = null;
function emit(key, value) { __emit__(key, value); }
function log() {}
var isArray = Array.isArray;
var toJSON = JSON.parse;
function sum(values) {
  var result = 0;
  for (var i = 0; i < values.length; i++) {
    var num = values[i];
    if (typeof num === 'number') {
      if (typeof result === 'number') result += num; else result[0] += num;
    } else if (Array.isArray(num)) {
      result = typeof result === 'number' ? [result] : result;
      for (var j = 0; j < num.length; j++) {
        if (typeof num[j] !== 'number') throw { builtInError: true, name: '_sum' };
        if (result[j] === undefined) result.push(num[j]); else result[j] += num[j];
      }
    } else {
      throw { builtInError: true, name: '_sum' };
    }
  }
  return result;
}`;

interface CompiledFunction {
  context: vm.Context & { __emit__: Emit | null };
  /** Calls the function; a built-in reducer's pseudo-error thrown inside comes out as pouch's error. */
  call: (...args: unknown[]) => unknown;
  /** JSON.parse of the function's own context: the copy of a doc belongs to that realm. */
  parse: (json: string) => unknown;
}

/** Compiled functions by source. Bounded: design documents change rarely, but they do change. */
const compiled = new Map<string, CompiledFunction>();
const MAX_COMPILED = 256;

/** Compiles a view function's source once; a syntax error surfaces on the query, as in CouchDB. */
export function compileViewFunction(source: string): CompiledFunction {
  const hit = compiled.get(source);
  if (hit) return hit;
  const context = vm.createContext({ __emit__: null }) as CompiledFunction['context'];
  vm.runInContext(PRELUDE, context);
  const fn = vm.runInContext(`(${source.replace(/;\s*$/, '')})`, context) as (...args: unknown[]) => unknown;
  if (typeof fn !== 'function')
    throw new TypeError(`view function is not a function: ${source.slice(0, 80)}`);
  const parse = vm.runInContext('JSON.parse', context) as CompiledFunction['parse'];
  const call = (...args: unknown[]) => {
    try {
      return fn(...args);
    } catch (err) {
      throw builtInError(err);
    }
  };
  if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value as string);
  const entry = { context, call, parse };
  compiled.set(source, entry);
  return entry;
}

function builtInError(thrown: unknown): unknown {
  if (thrown && typeof thrown === 'object' && (thrown as { builtInError?: unknown }).builtInError) {
    const { BuiltInError } = requireCjs('pouchdb-mapreduce-utils');
    const name = String((thrown as { name?: unknown }).name);
    return new BuiltInError(`builtin ${name} function requires map values to be numbers or number arrays`);
  }
  return thrown;
}

/** The map function of a view bound to pouch's emit for one index update. */
export function mapper(mapFun: unknown, emit: Emit): MapFunction {
  // Temporary views with a real function: `emit` is its second argument (pouch's own rule).
  if (typeof mapFun === 'function' && mapFun.length === 2) return (doc) => mapFun(doc, emit);
  const { context, call, parse } = compileViewFunction(String(mapFun));
  return (doc) => {
    context.__emit__ = emit;
    try {
      return call(parse(JSON.stringify(doc)));
    } finally {
      context.__emit__ = null;
    }
  };
}

function builtInSum(values: unknown[]): unknown {
  return compileViewFunction('function (values) { return sum(values); }').call(values);
}

const BUILT_IN_REDUCE: Record<string, ReduceFunction> = {
  _sum: (_keys, values) => builtInSum(values as unknown[]),
  _count: (_keys, values) => (values as unknown[]).length,
  _stats: (_keys, values) => {
    const numbers = values as number[];
    return {
      sum: builtInSum(numbers),
      min: Math.min(...numbers),
      max: Math.max(...numbers),
      count: numbers.length,
      sumsqr: numbers.reduce((total, n) => total + n * n, 0),
    };
  },
};

export function reducer(reduceFun: unknown): ReduceFunction {
  const source = String(reduceFun);
  const builtIn = builtInReduceName(source);
  if (builtIn) return BUILT_IN_REDUCE[builtIn]!;
  if (source.startsWith('_')) throw new Error(`${source} is not a supported reduce function.`);
  const { call } = compileViewFunction(source);
  return (keys, values, rereduce) => call(keys, values, rereduce);
}

function ddocValidator(ddoc: { _id: string; views?: Record<string, { map?: unknown }> }, viewName: string) {
  const fun = ddoc.views?.[viewName];
  if (typeof fun?.map !== 'string') {
    const { NotFoundError } = requireCjs('pouchdb-mapreduce-utils');
    throw new NotFoundError(
      `ddoc ${ddoc._id} has no string view named ${viewName}, instead found object of type: ${typeof fun?.map}`,
    );
  }
}

/**
 * CouchDB 3's names for a stale read (docs/couchdb-rules.md #15), mapped to the `stale` that
 * pouchdb-abstract-mapreduce understands, so the same query works on both servers: `update=false`
 * is `stale=ok`, `update=lazy` is `stale=update_after`, `update=true` the default. `stable` (which
 * shard copies answer, on a cluster) means nothing on one node. A `stale` given too wins.
 */
export function couch3ViewParams(opts: Record<string, unknown>): Record<string, unknown> {
  if (!('update' in opts) && !('stable' in opts)) return opts;
  const { update, stable: _stable, ...rest } = opts;
  if (rest.stale !== undefined) return rest;
  if (isFalse(update)) return { ...rest, stale: 'ok' };
  if (update === 'lazy') return { ...rest, stale: 'update_after' };
  return rest;
}

/**
 * The database option (PouchDB.defaults) that turns on lagging views (laggingViews.ts): the lag in
 * ms. Read from each database handle, so servers of one process can differ.
 */
export const LAGGING_VIEWS_OPTION = 'lrt_lagging_views_ms';

/**
 * The database option with the request timeout of view reads, in ms: a read still waiting for its
 * index then is answered as CouchDB answers it (HTTP 500 "timeout"), and the build goes on.
 */
export const VIEW_TIMEOUT_OPTION = 'lrt_view_timeout_ms';

/** CouchDB's answer to a read that outlived its request timeout, as pouch's errors are shaped. */
function requestTimeoutError(): Error {
  return Object.assign(new Error('The request could not be processed in a reasonable amount of time.'), {
    name: 'timeout',
    status: 500,
  });
}

/**
 * View rows with their fields in CouchDB's order (`id`, `key`, `value`, `doc`): pouch builds reduced
 * rows as `{value, key}`, and a script that reads the text sees the difference.
 */
export function inCouchOrder(answer: unknown): unknown {
  const rows = (answer as { rows?: unknown })?.rows;
  if (!Array.isArray(rows)) return answer;
  const ordered = rows.map((row: Record<string, unknown>) => {
    const { id, key, value, doc, ...rest } = row;
    return {
      ...('id' in row ? { id } : {}),
      key,
      value,
      ...('doc' in row ? { doc } : {}),
      ...rest,
    };
  });
  return { ...(answer as object), rows: ordered };
}

/** What of a PouchDB database handle the plugin uses (pouchdb-core ships no types). */
interface SourceDb {
  __opts?: Record<string, unknown>;
  constructor: object;
  get(id: string): Promise<{ views?: Record<string, { map?: unknown; reduce?: unknown }> }>;
  /** pouchdb-abstract-mapreduce's views of this handle, by signature (map + reduce + 'undefined'). */
  _cachedViews?: Record<string, Promise<{ name: string; db: IndexDb & EventTarget }>>;
}

type AbstractQuery = (this: unknown, fun: unknown, opts: Record<string, unknown>) => Promise<unknown>;

/** Options that make a reduce read something else than a reduction of the whole view. */
const NOT_WHOLE_VIEW = [
  'key',
  'keys',
  'startkey',
  'start_key',
  'endkey',
  'end_key',
  'startkey_docid',
  'start_key_doc_id',
  'endkey_docid',
  'end_key_doc_id',
  'include_docs',
  'update_seq',
];

function wholeNumber(value: unknown): number | undefined | false {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : false;
}

/** The reduce read of the whole view `options` asks for, or undefined when it asks for more. */
function wholeViewReduce(options: Record<string, unknown>): ReduceQuery | undefined {
  if (isFalse(options.reduce)) return undefined;
  if (NOT_WHOLE_VIEW.some((name) => options[name] !== undefined)) return undefined;
  const [groupLevel, skip, limit] = [options.group_level, options.skip, options.limit].map(wholeNumber);
  // An invalid number: pouch's own code answers with the error CouchDB gives.
  if (groupLevel === false || skip === false || limit === false) return undefined;
  return {
    group: isTrue(options.group),
    groupLevel,
    skip,
    limit,
    descending: isTrue(options.descending),
  };
}

/**
 * `key=K&group=true` (the count of one state, as `/api/tokens?state=` asks): the grouped reduce
 * of the whole view, of which K's row is kept. A reduce per key costs the groups, not the rows.
 */
function oneGroupReduce(options: Record<string, unknown>): { key: unknown; query: ReduceQuery } | undefined {
  if (options.key === undefined || !isTrue(options.group) || options.group_level !== undefined)
    return undefined;
  // An invalid number: pouch's own code answers with the error CouchDB gives.
  if (wholeNumber(options.skip) === false || wholeNumber(options.limit) === false) return undefined;
  const { key, skip: _skip, limit: _limit, ...whole } = options;
  const query = wholeViewReduce(whole);
  return query && { key, query };
}

/** Chunked reductions per view index (reduceIndex.ts), per server (PouchDB constructor). */
const reduceStates = new WeakMap<object, Map<string, ReduceIndexState>>();

function reduceStateOf(
  db: SourceDb,
  view: { name: string; db: IndexDb & EventTarget },
  reduce: ReturnType<typeof builtInReduceName>,
) {
  let byView = reduceStates.get(db.constructor);
  if (!byView) {
    byView = new Map();
    reduceStates.set(db.constructor, byView);
  }
  let state = byView.get(view.name);
  if (!state) {
    state = newReduceIndexState(reduce!);
    byView.set(view.name, state);
    const forget = () => byView.delete(view.name);
    (view.db as unknown as { once(event: string, listener: () => void): void }).once('destroyed', forget);
  }
  return state;
}

type ViewSource = { map?: unknown; reduce?: unknown };

/** The definition of view `fun` (`ddoc/view`), or undefined (pouch's code reports it missing). */
async function viewSource(db: SourceDb, fun: string): Promise<ViewSource | undefined> {
  const [ddocName, viewName] = fun.includes('/') ? fun.split('/') : [fun, fun];
  return db.get(`_design/${ddocName}`).then(
    (ddoc) => ddoc.views?.[viewName!],
    () => undefined,
  );
}

/**
 * pouch's index of view `fun` (`source`), brought up to date by pouch's own code as `query` asks
 * (`stale`/`update`), which also reports a missing view and checks a key range: asked for
 * `reduce=false&limit=0`, it reads no rows. Undefined when pouch has not opened it.
 */
async function pouchIndex(
  db: SourceDb,
  abstractQuery: AbstractQuery,
  fun: string,
  source: ViewSource,
  query: Record<string, unknown>,
) {
  await abstractQuery.call(db, fun, { ...query, reduce: false, limit: 0 });
  return db._cachedViews?.[`${source.map}${source.reduce}undefined`];
}

/**
 * A reduce read of a whole view with a built-in reduce (or of one key of it, grouped), answered
 * from chunked reductions (reduceIndex.ts); undefined when the read is not of that kind (pouch's
 * own code answers it).
 */
async function incrementalReduce(
  db: SourceDb,
  abstractQuery: AbstractQuery,
  fun: string,
  options: Record<string, unknown>,
): Promise<unknown | undefined> {
  const oneGroup = oneGroupReduce(options);
  const query = oneGroup?.query ?? wholeViewReduce(options);
  if (!query) return undefined;
  const source = await viewSource(db, fun);
  const reduce = builtInReduceName(source?.reduce);
  if (!source || typeof source.map !== 'string' || !reduce || typeof source.reduce !== 'string')
    return undefined;
  const stale = options.stale === undefined ? {} : { stale: options.stale };
  const view = await pouchIndex(db, abstractQuery, fun, source, stale);
  if (!view) return undefined;
  const fns = { reduce: reducer(source.reduce), sum: builtInSum as (values: unknown[]) => unknown };
  const answer = await readReduced(reduceStateOf(db, view, reduce), view.db, query, fns);
  if (!oneGroup) return answer;
  const { collate } = pouchCollate();
  const rows = answer.rows.filter((row) => collate(row.key, oneGroup.key) === 0);
  const skip = Number(options.skip ?? 0);
  return { rows: rows.slice(skip, options.limit === undefined ? undefined : skip + Number(options.limit)) };
}

/**
 * A map read whose rows pouch's own code selects otherwise than CouchDB 3 (`startkey_docid`,
 * `endkey_docid`, `inclusive_end` with `key`: viewRange.ts), answered from pouch's index by the
 * read's own bounds (rangeRead.ts); undefined when the read is not of that kind.
 */
async function couchRangeRead(
  db: SourceDb,
  abstractQuery: AbstractQuery,
  fun: string,
  options: Record<string, unknown>,
): Promise<unknown | undefined> {
  if (!pouchMisreadsRange(options)) return undefined;
  const source = await viewSource(db, fun);
  if (!source || typeof source.map !== 'string') return undefined;
  if (source.reduce !== undefined && !isFalse(options.reduce)) return undefined;
  // An invalid number: pouch's own code answers with the error CouchDB gives.
  if (wholeNumber(options.skip) === false || wholeNumber(options.limit) === false) return undefined;
  const {
    keys: _keys,
    include_docs: _includeDocs,
    skip: _skip,
    update_seq: _updateSeq,
    ...rangeCheck
  } = options;
  const view = await pouchIndex(db, abstractQuery, fun, source, rangeCheck);
  if (!view) return undefined;
  const answer = await readIndexRange(view.db as unknown as AllDocsDb, db as unknown as AllDocsDb, options);
  return options.update_seq ? { ...answer, update_seq: (view as { seq?: unknown }).seq } : answer;
}

/**
 * A copy of pouchdb-abstract-mapreduce of its own: the module keeps one queue per view for the
 * whole process, in which a read waits for every index update before it, stale reads too. The
 * copy's queues are its own, so a stale read through it answers from the index as it stands
 * while the other copy updates it (as CouchDB answers `update=false|lazy`): on 100k fresh tokens
 * the first claim's lazy read waited 15 s for an index update. The copy only ever reads.
 */
function separateAbstractMapReduce(): (...args: unknown[]) => { query: AbstractQuery } {
  const path = requireCjs.resolve('pouchdb-abstract-mapreduce');
  const shared = requireCjs.cache[path];
  delete requireCjs.cache[path];
  try {
    return requireCjs('pouchdb-abstract-mapreduce');
  } finally {
    if (shared) requireCjs.cache[path] = shared;
  }
}

/** The PouchDB plugin: `PouchDB.plugin(viewEnginePlugin())` in place of pouchdb-mapreduce. */
export function viewEnginePlugin(): { query: unknown; viewCleanup: unknown } {
  const createAbstractMapReduce = requireCjs('pouchdb-abstract-mapreduce');
  // 'mrviews' is pouchdb-mapreduce's local doc name: indexes on disk (--data) stay readable.
  const abstract = createAbstractMapReduce('mrviews', mapper, reducer, ddocValidator);
  const staleReader = separateAbstractMapReduce()('mrviews', mapper, reducer, ddocValidator);
  /** A stale read answered at once from the index as it stands; update_after then updates it. */
  const staleRead = function (this: SourceDb, fun: unknown, options: Record<string, unknown>) {
    if (options.stale === 'update_after') {
      abstract.query
        .call(this, fun, { stale: 'update_after', reduce: false, limit: 0 })
        .catch(() => undefined);
    }
    return staleReader.query.call(this, fun, { ...options, stale: 'ok' });
  };
  return {
    query(this: SourceDb, fun: unknown, optsOrCallback: unknown, cb: unknown) {
      // query(fun, callback) is pouch's short form.
      const [opts, callback] =
        typeof optsOrCallback === 'function' ? [{}, optsOrCallback] : [optsOrCallback, cb];
      const options = couch3ViewParams((opts ?? {}) as Record<string, unknown>);
      const lagMs = this.__opts?.[LAGGING_VIEWS_OPTION];
      const stale = options.stale === 'ok' || options.stale === 'update_after';
      const ordinary = async () => {
        if (typeof fun !== 'string') return abstract.query.call(this, fun, options);
        const indexQuery = stale ? staleRead : abstract.query;
        return (
          (await incrementalReduce(this, indexQuery, fun, options)) ??
          (await couchRangeRead(this, indexQuery, fun, options)) ??
          indexQuery.call(this, fun, options)
        );
      };
      const answer =
        typeof lagMs !== 'number' || typeof fun !== 'string'
          ? ordinary()
          : laggingQuery(this as unknown as LaggingSourceDb, fun, options, lagMs, mapper).then(
              (lagging) => lagging ?? ordinary(),
            );
      const timeoutMs = this.__opts?.[VIEW_TIMEOUT_OPTION];
      const bounded =
        typeof timeoutMs === 'number' ? withTimeout(answer, timeoutMs, requestTimeoutError) : answer;
      return requireCjs('pouchdb-mapreduce-utils').promisedCallback(bounded.then(inCouchOrder), callback);
    },
    viewCleanup(this: unknown, callback: unknown) {
      return abstract.viewCleanup.call(this, callback);
    },
  };
}
