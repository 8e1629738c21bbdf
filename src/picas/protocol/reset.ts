import { type TokenDoc, withoutFields } from '../tokenDoc';
import { isFreeAtTodo, type Patched, type Skipped, scrubCount, withTime } from './leaseRecord';

/*
 * Transition any -> todo from the login side (docs/protocol.md, Reset). A change that is already
 * in place is skipped, so re-applying it to a fresh copy after a 409 never counts twice.
 */

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

/** The attachment names `drop` selects on this token. */
export function attachmentsToDrop(doc: TokenDoc, drop: DropAttachments = 'none'): string[] {
  const names = Object.keys(doc._attachments ?? {});
  if (drop === 'none') return [];
  if (drop === 'logs') return names.filter(isLogAttachment);
  const wanted = new Set(drop);
  return names.filter((name) => wanted.has(name));
}

/**
 * Reset (docs/protocol.md, login side): `lock=0, done=0, status="todo", scrub_count+1,
 * hostname="", output=""`, lease and `exit_code` removed, `times.reset` recorded. Attachments
 * stay unless `dropAttachments` selects some. A token that is already free and at `todo` is
 * skipped (unless attachments are to be dropped), so a second reset of the same view after a
 * conflict does not count the token twice.
 */
export function resetPatch(doc: TokenDoc, options: ResetOptions): Patched | Skipped {
  const drop = attachmentsToDrop(doc, options.dropAttachments);
  if (isFreeAtTodo(doc) && drop.length === 0) return { skip: `token ${doc._id} is already free (todo)` };
  const next: TokenDoc = {
    ...withoutFields(doc, ['lease', 'exit_code']),
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
