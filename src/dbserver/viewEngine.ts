import { createRequire } from 'node:module';
import vm from 'node:vm';
import { type LaggingSourceDb, laggingQuery } from './laggingViews';

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
  const builtIn = /^_(sum|count|stats)/.exec(source);
  if (builtIn) return BUILT_IN_REDUCE[`_${builtIn[1]}`]!;
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
  if (update === false || update === 'false') return { ...rest, stale: 'ok' };
  if (update === 'lazy') return { ...rest, stale: 'update_after' };
  return rest;
}

/**
 * The database option (PouchDB.defaults) that turns on lagging views (laggingViews.ts): the lag in
 * ms. Read from each database handle, so servers of one process can differ.
 */
export const LAGGING_VIEWS_OPTION = 'lrt_lagging_views_ms';

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

/** The PouchDB plugin: `PouchDB.plugin(viewEnginePlugin())` in place of pouchdb-mapreduce. */
export function viewEnginePlugin(): { query: unknown; viewCleanup: unknown } {
  const createAbstractMapReduce = requireCjs('pouchdb-abstract-mapreduce');
  // 'mrviews' is pouchdb-mapreduce's local doc name: indexes on disk (--data) stay readable.
  const abstract = createAbstractMapReduce('mrviews', mapper, reducer, ddocValidator);
  return {
    query(this: { __opts?: Record<string, unknown> }, fun: unknown, optsOrCallback: unknown, cb: unknown) {
      // query(fun, callback) is pouch's short form.
      const [opts, callback] =
        typeof optsOrCallback === 'function' ? [{}, optsOrCallback] : [optsOrCallback, cb];
      const options = couch3ViewParams((opts ?? {}) as Record<string, unknown>);
      const lagMs = this.__opts?.[LAGGING_VIEWS_OPTION];
      const answer =
        typeof lagMs !== 'number' || typeof fun !== 'string'
          ? (abstract.query.call(this, fun, options) as Promise<unknown>)
          : laggingQuery(this as unknown as LaggingSourceDb, fun, options, lagMs, mapper).then(
              (lagging) => lagging ?? abstract.query.call(this, fun, options),
            );
      return requireCjs('pouchdb-mapreduce-utils').promisedCallback(answer.then(inCouchOrder), callback);
    },
    viewCleanup(this: unknown, callback: unknown) {
      return abstract.viewCleanup.call(this, callback);
    },
  };
}
