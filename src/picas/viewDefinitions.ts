import { LrtError } from '../core';

/** A CouchDB view: JavaScript source of the map function and, optionally, a reduce. */
export interface ViewSource {
  map: string;
  reduce?: string;
}

export interface DesignDoc {
  _id: string;
  _rev?: string;
  language: 'javascript';
  views: Record<string, ViewSource>;
  [field: string]: unknown;
}

export const STATUS_VIEWS = ['todo', 'locked', 'done', 'error'] as const;
export const OVERVIEW_VIEWS = ['overview_total', 'overview_view'] as const;
export const EXPIRED_VIEW = 'expired';
/**
 * The free tokens of `todo`, keyed by a hash of the id: what the claim reads (docs/protocol.md).
 * It lives in the claim's own design document (claimDesignDocName), not in `_design/<type>`.
 */
export const SPREAD_VIEW = 'todo_spread';
/** Spread keys are whole numbers in [0, SPREAD_KEYS). */
export const SPREAD_KEYS = 2 ** 32;

const TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Token types become part of ids, design doc names and view code: keep them plain. */
export function assertTokenType(type: string): void {
  if (!TYPE_PATTERN.test(type)) {
    throw new LrtError(
      'E_USAGE',
      `invalid token type "${type}": use letters, digits, '_', '.', '-' (starting with a letter or digit)`,
    );
  }
}

export function designDocId(type: string): string {
  return `_design/${type}`;
}

/** What every claim design document's name starts with (`claimDesignDocName`). */
export const CLAIM_DESIGN_PREFIX = 'claim:';

/**
 * The name (after `_design/`) of the design document that holds the claim's views of a type:
 * `claim:<type>` (':' is never part of a type, so it cannot be another type's). Apart from
 * `_design/<type>` because CouchDB rebuilds every view of a design document when the document
 * changes: adding or changing a claim view must not take `todo` away from a running fleet.
 */
export function claimDesignDocName(type: string): string {
  assertTokenType(type);
  return `${CLAIM_DESIGN_PREFIX}${type}`;
}

export function claimDesignDocId(type: string): string {
  return `_design/${claimDesignDocName(type)}`;
}

/**
 * The name (after `_design/`) of the design document that holds the user's custom views of a type
 * (`lrt views add`): `views:<type>`. Apart from `_design/<type>` (the `todo` the pilots read) and
 * `_design/claim:<type>` (the claim's index): on CouchDB a change to a design document rebuilds
 * every view in it, so adding or removing a custom view must never take `todo` away.
 */
export function customDesignDocName(type: string): string {
  assertTokenType(type);
  return `views:${type}`;
}

export function customDesignDocId(type: string): string {
  return `_design/${customDesignDocName(type)}`;
}

/**
 * A design document that builds the index another one will have (designDocSwap.ts): `next:<name>`
 * for `_design/<name>`. CouchDB names an index by its views, not by its design document, so once
 * this one is built the real one can take the same views without a rebuild.
 */
export function stagingDesignDocId(id: string): string {
  return `_design/next:${id.replace(/^_design\//, '')}`;
}

/**
 * A view whose rows have key AND value equal to the token id: GRID_LRT's worker reads the value,
 * its reset/delete code the key.
 */
export function conditionView(type: string, condition: string): ViewSource {
  assertTokenType(type);
  return {
    map: `function (doc) {\n  if (doc.type == ${JSON.stringify(type)} && (${condition})) {\n    emit(doc._id, doc._id);\n  }\n}`,
  };
}

/** `todo` excludes tokens whose data is still being staged from tape. */
export const STATUS_CONDITIONS: Record<(typeof STATUS_VIEWS)[number], string> = {
  todo: 'doc.lock == 0 && doc.done == 0 && doc.status != "staging"',
  locked: 'doc.lock > 0 && doc.done == 0',
  done: 'doc.status == "done"',
  error: 'doc.status == "error"',
};

/**
 * One row per token, keyed by its state: `staging`, `todo`, the running phase while locked
 * (`locked`, `downloading`, `running`, ...), then `done` or `error`. Queried with group=true.
 */
export function overviewView(type: string): ViewSource {
  assertTokenType(type);
  return {
    map: [
      'function (doc) {',
      `  if (doc.type != ${JSON.stringify(type)}) return;`,
      '  var state;',
      '  if (doc.done > 0) state = doc.status == "error" ? "error" : "done";',
      '  else if (doc.lock > 0) state = doc.status && doc.status != "todo" ? doc.status : "locked";',
      '  else if (doc.status == "staging") state = "staging";',
      '  else if (doc.status == "error") state = "error";',
      '  else state = "todo";',
      '  emit(state, 1);',
      '}',
    ].join('\n'),
    reduce: '_sum',
  };
}

/** Claimed, unfinished tokens keyed by lease expiry (epoch s): `endkey=now` lists dead pilots' tokens. */
export function expiredView(type: string): ViewSource {
  assertTokenType(type);
  return {
    map: [
      'function (doc) {',
      `  if (doc.type == ${JSON.stringify(type)} && doc.lock > 0 && doc.done == 0 && doc.lease && doc.lease.expires) {`,
      '    emit(doc.lease.expires, doc._id);',
      '  }',
      '}',
    ].join('\n'),
  };
}

/**
 * The spread key of a token id: FNV-1a over its UTF-16 code units, then murmur3's finaliser, so
 * ids that differ in one character land far apart; a whole number in [0, 2^32). 32-bit products
 * are built from 16-bit halves (no Math.imul), so every CouchDB JavaScript engine computes the same.
 * The source goes into the view as it is: changing it rewrites every design document.
 */
const SPREAD_HASH = [
  'function (id) {',
  '    var mul = function (a, b) { return ((a & 0xffff) * b + ((((a >>> 16) * b) & 0xffff) << 16)) >>> 0; };',
  '    var h = 2166136261;',
  '    for (var i = 0; i < id.length; i++) h = mul((h ^ id.charCodeAt(i)) >>> 0, 16777619);',
  '    h = mul((h ^ (h >>> 16)) >>> 0, 0x85ebca6b);',
  '    h = mul((h ^ (h >>> 13)) >>> 0, 0xc2b2ae35);',
  '    return (h ^ (h >>> 16)) >>> 0;',
  '  }',
].join('\n');

let compiledSpread: ((id: string) => number) | undefined;

/** The key `todo_spread` gives a token id (the view's own function, run here). */
export function spreadKey(id: string): number {
  compiledSpread ??= new Function(`return (${SPREAD_HASH});`)() as (id: string) => number;
  return compiledSpread(id);
}

/**
 * `todo` keyed by spreadKey(_id) instead of the id, the id as value: tokens spread evenly over
 * the keys whatever their ids, so a claimer that starts at a random key starts at a random place
 * in the view without a `skip`. `todo` itself stays as old tools read it.
 */
export function spreadView(type: string): ViewSource {
  assertTokenType(type);
  return {
    map: [
      'function (doc) {',
      `  var spread = ${SPREAD_HASH};`,
      `  if (doc.type == ${JSON.stringify(type)} && (${STATUS_CONDITIONS.todo})) {`,
      '    emit(spread(String(doc._id)), doc._id);',
      '  }',
      '}',
    ].join('\n'),
  };
}

/** Every view grid-lrt defines for a token type. */
export function standardViews(type: string): Record<string, ViewSource> {
  const views: Record<string, ViewSource> = {};
  for (const name of STATUS_VIEWS) views[name] = conditionView(type, STATUS_CONDITIONS[name]);
  for (const name of OVERVIEW_VIEWS) views[name] = overviewView(type);
  views[EXPIRED_VIEW] = expiredView(type);
  return views;
}

/** The views of the claim's design document (claimDesignDocId). */
export function claimViews(type: string): Record<string, ViewSource> {
  return { [SPREAD_VIEW]: spreadView(type) };
}

/**
 * The design doc to write so that `wanted` views exist, keeping any other views already there
 * (custom views of the user). Returns undefined when nothing would change.
 */
export function mergeDesignDoc(
  id: string,
  existing: DesignDoc | undefined,
  wanted: Record<string, ViewSource>,
): DesignDoc | undefined {
  const views = { ...(existing?.views ?? {}) };
  let changed = !existing;
  for (const [name, source] of Object.entries(wanted)) {
    const current = views[name];
    if (!current || current.map !== source.map || current.reduce !== source.reduce) {
      views[name] = source;
      changed = true;
    }
  }
  if (!changed) return undefined;
  return { ...(existing ?? {}), _id: id, language: 'javascript', views };
}
