import { type TokenDoc, type TokenErrorEntry, withFields } from '../tokenDoc';
import {
  appendError,
  attemptsOf,
  closeAttempt,
  fence,
  type LeaseLost,
  type Patched,
  STDERR_TAIL_CHARS,
  timesOf,
  withoutLease,
} from './leaseRecord';

/* Transition locked -> done | error (docs/protocol.md, Finish). */

export interface FinishInput {
  now: number;
  exitCode: number;
  ok: boolean;
  phase: string;
  message?: string;
  stderrTail?: string;
  /** Result fields to store (`Results_location`, `stage_out` ...); protocol fields are refused. */
  fields?: Record<string, unknown>;
}

/** Fields a payload's results may not overwrite: the protocol's own. */
const PROTECTED_FIELDS = new Set(
  'type lock done status lease attempts times error output exit_code scrub_count hostname progress launcher_status'.split(
    ' ',
  ),
);

/**
 * Finish the token: `done` (and `done>0` also on error, as GRID_LRT does), status done|error,
 * `output` and `exit_code`, the attempt closed and the lease removed. `lock` stays > 0, so the
 * token leaves the `locked` view and never re-enters `todo` without a reset.
 */
export function finishPatch(doc: TokenDoc, leaseId: string, input: FinishInput): Patched | LeaseLost {
  const lease = fence(doc, leaseId);
  if ('lost' in lease) return lease;
  const status = input.ok ? 'done' : 'error';
  const message =
    input.message ?? (input.ok ? 'done' : `exit code ${input.exitCode} in phase ${input.phase}`);
  const results: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(input.fields ?? {})) {
    if (!field.startsWith('_') && !PROTECTED_FIELDS.has(field)) results[field] = value;
  }
  const { attempts } = closeAttempt(attemptsOf(doc), lease.attempt, {
    ended: input.now,
    phase: input.phase,
    exit: input.exitCode,
    reason: input.ok ? 'done' : message,
  });
  const next: TokenDoc = {
    ...withFields(withoutLease(doc), results),
    done: input.now,
    status,
    output: input.exitCode,
    exit_code: input.exitCode,
    times: { ...timesOf(doc), [status]: input.now },
    attempts,
  };
  if (input.ok) {
    next.progress = 1;
  } else {
    const entry: TokenErrorEntry = {
      time: input.now,
      message,
      phase: input.phase,
      exit_code: input.exitCode,
    };
    if (input.stderrTail) entry.stderr_tail = input.stderrTail.slice(-STDERR_TAIL_CHARS);
    next.error = appendError(doc.error, entry);
    next.launcher_status = message;
  }
  return { doc: next };
}
