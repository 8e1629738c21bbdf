import type { TokenDoc } from './client';
import {
  appendError,
  attemptsOf,
  closeAttempt,
  fence,
  type LeaseLost,
  leaseLength,
  type Patched,
  PROTOCOL_STATUSES,
  STDERR_TAIL_CHARS,
  scrubCount,
  type TokenErrorEntry,
  timesOf,
  withoutLease,
} from './leaseRecord';

export {
  type ClaimInput,
  claimPatch,
  type ReclaimInput,
  type ReclaimResult,
  reclaimPatch,
} from './claimPatch';
export {
  type AttemptRecord,
  attemptsOf,
  isClaimable,
  LEASE_EXPIRED,
  type Lease,
  type LeaseLost,
  leaseLength,
  leaseOf,
  MAX_ATTEMPT_RECORDS,
  MAX_ERROR_RECORDS,
  type Patched,
  PROTOCOL_STATUSES,
  type Skipped,
  STDERR_TAIL_CHARS,
  type TokenErrorEntry,
} from './leaseRecord';

/**
 * The token state machine on the worker side, as pure functions: each takes the token as read
 * and returns the document to PUT (with the same `_rev`), a reason to skip it, or `lost` when
 * the token is no longer ours. Times are epoch seconds, given by the caller. Claim and reclaim
 * are in claimPatch.ts, the records they keep in leaseRecord.ts; here the writes under a lease.
 */

export interface HeartbeatInput {
  now: number;
  leaseSeconds: number;
  /** The pilot's phase (`downloading`, `running`, ...): recorded in `times` and the attempt. */
  phase?: string;
  /** 0..1 */
  progress?: number;
  /** Last line of the payload's status file; shown as `status` in place of the phase. */
  statusLine?: string;
  bytes?: number;
}

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

export interface ReleaseInput {
  now: number;
  reason: string;
}

// ---------------------------------------------------------------- writes under the lease

/** Renew the lease and report phase, progress, payload status line and bytes moved. */
export function heartbeatPatch(doc: TokenDoc, leaseId: string, input: HeartbeatInput): Patched | LeaseLost {
  const lease = fence(doc, leaseId);
  if ('lost' in lease) return lease;
  const next: TokenDoc = {
    ...doc,
    lease: { ...lease, expires: input.now + leaseLength(doc, input.leaseSeconds), renewed: input.now },
  };
  const attempts = attemptsOf(doc);
  const current = attempts.find((a) => a.n === lease.attempt);
  if (input.phase && current?.phase !== input.phase) {
    next.times = { ...timesOf(doc), [input.phase]: input.now };
    next.attempts = attempts.map((a) => (a === current ? { ...a, phase: input.phase } : a));
  }
  const line = input.statusLine?.trim().slice(0, 200);
  const status = line && !PROTOCOL_STATUSES.includes(line) ? line : input.phase;
  if (status) next.status = status;
  if (input.progress !== undefined && Number.isFinite(input.progress)) {
    next.progress = Math.min(1, Math.max(0, input.progress));
  }
  if (input.bytes !== undefined && Number.isFinite(input.bytes)) next.bytes_moved = input.bytes;
  return { doc: next };
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
    ...withoutLease(doc),
    ...results,
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

/** Give the token back (SIGTERM, walltime): free again, scrub_count+1, the reason recorded. */
export function releasePatch(doc: TokenDoc, leaseId: string, input: ReleaseInput): Patched | LeaseLost {
  const lease = fence(doc, leaseId);
  if ('lost' in lease) return lease;
  const { attempts } = closeAttempt(attemptsOf(doc), lease.attempt, {
    ended: input.now,
    reason: input.reason,
  });
  return {
    doc: {
      ...withoutLease(doc),
      lock: 0,
      done: 0,
      status: 'todo',
      hostname: '',
      output: '',
      scrub_count: scrubCount(doc) + 1,
      launcher_status: input.reason,
      times: { ...timesOf(doc), released: input.now },
      attempts,
    },
  };
}
