import type { TokenDoc } from './client';
import type { Patched, Skipped } from './lease';

/*
 * Login-side state changes of a token, as pure functions: each takes the token as read and
 * returns the document to write (same `_rev`) or a reason to skip it. A change that is already
 * in place is skipped, so re-applying a patch to a fresh copy after a 409 never counts twice.
 * Times are epoch seconds, given by the caller.
 */

export type TokenPatch = (doc: TokenDoc) => Patched | Skipped;

/**
 * Which attachments a reset removes. Inputs (srm.txt, parsets) must stay or the token cannot run
 * again, so the default keeps all of them.
 * - `'none'` (default): keep every attachment.
 * - `'logs'`: drop what the runs left behind: names ending in `.log`, `.out` or `.err`, and
 *   names starting with `stdout` or `stderr`.
 * - a list of names: drop exactly those.
 */
export type DropAttachments = 'none' | 'logs' | readonly string[];

export interface ResetOptions {
  now: number;
  dropAttachments?: DropAttachments;
}

const LOG_NAME = /(\.(log|out|err)$)|(^std(out|err))/i;

export function isLogAttachment(name: string): boolean {
  return LOG_NAME.test(name);
}

function isZero(value: unknown): boolean {
  return value === 0 || value === '0';
}

function isPositive(value: unknown): boolean {
  return Number(value) > 0;
}

function scrubCount(doc: TokenDoc): number {
  const n = Number(doc.scrub_count);
  return Number.isFinite(n) ? n : 0;
}

function withTime(doc: TokenDoc, name: string, now: number): Record<string, unknown> {
  const times = doc.times;
  const base = times && typeof times === 'object' && !Array.isArray(times) ? times : {};
  return { ...(base as Record<string, unknown>), [name]: now };
}

function omit(doc: TokenDoc, fields: string[]): TokenDoc {
  const copy: Record<string, unknown> = { ...doc };
  for (const field of fields) delete copy[field];
  return copy as TokenDoc;
}

/** The attachment names `drop` selects on this token. */
export function attachmentsToDrop(doc: TokenDoc, drop: DropAttachments = 'none'): string[] {
  const names = Object.keys(doc._attachments ?? {});
  if (drop === 'none') return [];
  if (drop === 'logs') return names.filter(isLogAttachment);
  const wanted = new Set(drop);
  return names.filter((name) => wanted.has(name));
}

/** Free, unfinished, at `todo`, held by no pilot: what a reset produces. */
function isFresh(doc: TokenDoc): boolean {
  return isZero(doc.lock) && isZero(doc.done) && doc.status === 'todo' && doc.lease === undefined;
}

/**
 * Reset (token-format.md, login side): `lock=0, done=0, status="todo", scrub_count+1,
 * hostname="", output=""`, lease and `exit_code` removed, `times.reset` recorded. Attachments
 * stay unless `dropAttachments` selects some. A token that is already free and at `todo` is
 * skipped (unless attachments are to be dropped), so a second reset of the same view after a
 * conflict does not count the token twice.
 */
export function resetPatch(doc: TokenDoc, options: ResetOptions): Patched | Skipped {
  const drop = attachmentsToDrop(doc, options.dropAttachments);
  if (isFresh(doc) && drop.length === 0) return { skip: `token ${doc._id} is already free (todo)` };
  const next: TokenDoc = {
    ...omit(doc, ['lease', 'exit_code']),
    lock: 0,
    done: 0,
    status: 'todo',
    scrub_count: scrubCount(doc) + 1,
    hostname: '',
    output: '',
    times: withTime(doc, 'reset', options.now),
  };
  if (drop.length > 0) {
    const kept = { ...(doc._attachments ?? {}) };
    for (const name of drop) delete kept[name];
    if (Object.keys(kept).length > 0) next._attachments = kept;
    else delete next._attachments;
  }
  return { doc: next };
}

/**
 * Set a status the way GRID_LRT's set_view_to_status does, with the lock fields kept consistent
 * with the views:
 * - `locked`: `lock=now`, `done=0` (the token enters `locked`; "this automatically locks the
 *   tokens"); a pilot's lease stays.
 * - `todo`: `lock=0`, `done=0`, lease removed (no pilot holds a todo token), scrub_count unchanged.
 * - `done` / `error`: `done=now`, lease removed (the token is finished; its pilot must stop).
 * - anything else: only `status`.
 * `times[status]` records when. A token already in that state is skipped.
 */
export function setStatusPatch(doc: TokenDoc, status: string, now: number): Patched | Skipped {
  const already = `token ${doc._id} is already ${status}`;
  const times = withTime(doc, status, now);
  switch (status) {
    case 'locked':
      if (doc.status === status && isPositive(doc.lock) && isZero(doc.done)) return { skip: already };
      return { doc: { ...doc, status, lock: now, done: 0, times } };
    case 'todo':
      if (isFresh(doc)) return { skip: already };
      return { doc: { ...omit(doc, ['lease']), status, lock: 0, done: 0, times } };
    case 'done':
    case 'error':
      if (doc.status === status && isPositive(doc.done) && doc.lease === undefined) return { skip: already };
      return { doc: { ...omit(doc, ['lease']), status, done: now, times } };
    default:
      if (doc.status === status) return { skip: already };
      return { doc: { ...doc, status, times } };
  }
}

/** A deletion: the tombstone `_bulk_docs` takes, guarded by the `_rev` read. */
export function deletePatch(doc: TokenDoc): Patched {
  return { doc: { _id: doc._id, _rev: doc._rev, _deleted: true } as unknown as TokenDoc };
}

export interface FieldChange {
  before: unknown;
  after: unknown;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The top-level fields a patch changes, before and after (for --dry-run). Attachments are shown
 * by name, a deletion as `_deleted: false -> true`.
 */
export function changedFields(before: TokenDoc, after: TokenDoc): Record<string, FieldChange> {
  if (after._deleted === true) return { _deleted: { before: false, after: true } };
  const changes: Record<string, FieldChange> = {};
  const fields = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const field of fields) {
    if (field === '_rev' || field === '_id') continue;
    let a: unknown = before[field];
    let b: unknown = after[field];
    if (field === '_attachments') {
      a = Object.keys(before._attachments ?? {}).sort();
      b = Object.keys(after._attachments ?? {}).sort();
    }
    if (!same(a, b)) changes[field] = { before: a, after: b };
  }
  return changes;
}
