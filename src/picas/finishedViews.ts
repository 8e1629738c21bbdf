import type { TokenDoc } from './tokenDoc';
import { assertTokenType, type ViewSource } from './viewDefinitions';

/*
 * "Finished" the way each tool writes it (docs/token-format.md, Finished tokens):
 * - GRID_LRT: `status` "done" or "error";
 * - picasclient: `done` > 0 (an epoch), success when `exit_code` parses to 0 (its own done/error
 *   views test `parseInt(doc.exit_code)`); `lock == -1 && done == -1` is its Task.error;
 * - grid-lrt: both of the above at once (status, done, exit_code and output).
 * These views live in a design document of their own, `_design/finished:<type>`: a change to
 * `_design/<type>` would make CouchDB rebuild the whole index there, `todo` included (a stall
 * of the fleet's claims on a large database), and GRID_LRT keeps reading its own `done`.
 */

/** The design document name (after `_design/`): ':' can never be part of a token type. */
export function finishedDesignName(type: string): string {
  assertTokenType(type);
  return `finished:${type}`;
}

export function finishedDesignDocId(type: string): string {
  return `_design/${finishedDesignName(type)}`;
}

/** Views read from `_design/finished:<type>` in place of `_design/<type>` when it has them. */
export const FINISHED_VIEW_NAMES = ['done', 'error', 'overview_total', 'taken_over'] as const;
export const TAKEN_OVER_VIEW = 'taken_over';

/**
 * The outcome of a token, "done", "error" or null while unfinished. View code (ES5, as CouchDB's
 * JavaScript engine runs it) and run here by tokenOutcome, so views and readers agree.
 */
const OUTCOME = [
  'function (doc) {',
  '    if (doc.status == "done") return "done";',
  '    if (doc.status == "error") return "error";',
  '    if (doc.lock == -1 && doc.done == -1) return "error";',
  '    if (doc.done > 0) {',
  '      var code = doc.exit_code !== undefined && doc.exit_code !== null ? doc.exit_code : doc.output;',
  '      return parseInt(code, 10) == 0 ? "done" : "error";',
  '    }',
  '    return null;',
  '  }',
].join('\n');

/** Our lease is on the token but another tool rewrote its lock or host (protocol/leaseRecord.ts). */
const TAKEN_OVER = [
  'function (doc) {',
  '    var lease = doc.lease;',
  '    if (!lease || typeof lease.id != "string") return false;',
  '    if (typeof lease.lock == "number" && Number(doc.lock) !== lease.lock) return true;',
  '    return typeof doc.hostname == "string" && doc.hostname !== lease.host;',
  '  }',
].join('\n');

let compiledOutcome: ((doc: unknown) => 'done' | 'error' | null) | undefined;

/** What the finished views say of `doc`: the same function, run here. */
export function tokenOutcome(doc: TokenDoc): 'done' | 'error' | undefined {
  compiledOutcome ??= new Function(`return (${OUTCOME});`)() as typeof compiledOutcome;
  return compiledOutcome!(doc) ?? undefined;
}

function typeTest(type: string): string {
  return `doc.type == ${JSON.stringify(type)}`;
}

function outcomeView(type: string, outcome: 'done' | 'error'): ViewSource {
  return {
    map: [
      'function (doc) {',
      `  var outcome = ${OUTCOME};`,
      `  if (${typeTest(type)} && outcome(doc) == ${JSON.stringify(outcome)}) emit(doc._id, doc._id);`,
      '}',
    ].join('\n'),
  };
}

/** `_design/<type>`'s overview with every tool's finish counted as done or error. */
function finishedOverview(type: string): ViewSource {
  return {
    map: [
      'function (doc) {',
      `  if (!(${typeTest(type)})) return;`,
      `  var outcome = ${OUTCOME};`,
      '  var state = outcome(doc);',
      '  if (!state) {',
      '    if (doc.lock > 0) state = doc.status && doc.status != "todo" ? doc.status : "locked";',
      '    else if (doc.status == "staging") state = "staging";',
      '    else state = "todo";',
      '  }',
      '  emit(state, 1);',
      '}',
    ].join('\n'),
    reduce: '_sum',
  };
}

function takenOverView(type: string): ViewSource {
  return {
    map: [
      'function (doc) {',
      `  var takenOver = ${TAKEN_OVER};`,
      `  if (${typeTest(type)} && takenOver(doc)) emit(doc._id, doc.hostname);`,
      '}',
    ].join('\n'),
  };
}

export function finishedViews(type: string): Record<(typeof FINISHED_VIEW_NAMES)[number], ViewSource> {
  return {
    done: outcomeView(type, 'done'),
    error: outcomeView(type, 'error'),
    overview_total: finishedOverview(type),
    taken_over: takenOverView(type),
  };
}

/** The whole design document; undefined when `existing` already has exactly these views. */
export function finishedDesignDoc(
  type: string,
  existing: { _rev?: string; views?: Record<string, ViewSource> } | undefined,
): { _id: string; _rev?: string; language: 'javascript'; views: Record<string, ViewSource> } | undefined {
  const views = finishedViews(type);
  const same =
    existing?.views !== undefined &&
    Object.keys(existing.views).length === Object.keys(views).length &&
    Object.entries(views).every(
      ([name, view]) =>
        existing.views?.[name]?.map === view.map && existing.views?.[name]?.reduce === view.reduce,
    );
  if (same) return undefined;
  return {
    _id: finishedDesignDocId(type),
    ...(existing?._rev ? { _rev: existing._rev } : {}),
    language: 'javascript',
    views,
  };
}
