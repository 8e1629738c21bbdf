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

/** Every view grid-lrt defines for a token type. */
export function standardViews(type: string): Record<string, ViewSource> {
  const views: Record<string, ViewSource> = {};
  for (const name of STATUS_VIEWS) views[name] = conditionView(type, STATUS_CONDITIONS[name]);
  for (const name of OVERVIEW_VIEWS) views[name] = overviewView(type);
  views[EXPIRED_VIEW] = expiredView(type);
  return views;
}

/**
 * The design doc to write so that `wanted` views exist, keeping any other views already there
 * (custom views of the user). Returns undefined when nothing would change.
 */
export function mergeDesignDoc(
  type: string,
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
  return { ...(existing ?? {}), _id: designDocId(type), language: 'javascript', views };
}
