import type { TokenDoc } from '../tokenDoc';
import {
  isFreeAtTodo,
  isPositive,
  isStrictZero,
  type Patched,
  type Skipped,
  withoutLease,
  withTime,
} from './leaseRecord';

/* Transition any -> the status asked for, from the login side (docs/protocol.md, Set status). */

/**
 * Set a status the way GRID_LRT's set_view_to_status does, with the lock fields kept consistent
 * with the views:
 * - `locked`: `lock=now`, `done=0` (the token enters `locked`; "this automatically locks the
 *   tokens"); a token already locked keeps its `lock`, and a pilot's lease stays (a new `lock`
 *   would tell that pilot another tool took the token: leaseRecord.ts, takenOverBy).
 * - `todo`: `lock=0`, `done=0`, lease removed (no pilot holds a todo token), scrub_count unchanged.
 * - `done` / `error`: `done=now`, lease removed (the token is finished; its pilot must stop).
 * - anything else: only `status`.
 * `times[status]` records when. A token already in that state is skipped.
 */
export function setStatusPatch(doc: TokenDoc, status: string, now: number): Patched | Skipped {
  const already = `token ${doc._id} is already ${status}`;
  const times = withTime(doc, status, now);
  switch (status) {
    case 'locked': {
      if (doc.status === status && isPositive(doc.lock) && isStrictZero(doc.done)) return { skip: already };
      const lock = isPositive(doc.lock) && isStrictZero(doc.done) ? doc.lock : now;
      return { doc: { ...doc, status, lock, done: 0, times } };
    }
    case 'todo':
      if (isFreeAtTodo(doc)) return { skip: already };
      return { doc: { ...withoutLease(doc), status, lock: 0, done: 0, times } };
    case 'done':
    case 'error':
      if (doc.status === status && isPositive(doc.done) && doc.lease === undefined) return { skip: already };
      return { doc: { ...withoutLease(doc), status, done: now, times } };
    default:
      if (doc.status === status) return { skip: already };
      return { doc: { ...doc, status, times } };
  }
}
