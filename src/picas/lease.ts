import type { TokenDoc } from './client';
import { type JobIds, primaryJobId } from './jobIds';

/**
 * The token state machine on the worker side, as pure functions: each takes the token as read
 * and returns the document to PUT (with the same `_rev`), a reason to skip it, or `lost` when
 * the token is no longer ours. Times are epoch seconds, given by the caller.
 */

/** Who holds a claimed token and until when (`lease` field). */
export interface Lease {
  id: string;
  pilot: string;
  host: string;
  /** Epoch s; after it any pilot may reclaim the token. */
  expires: number;
  renewed: number;
  attempt: number;
}

/** One claim of a token (`attempts` field, the last MAX_ATTEMPT_RECORDS kept). */
export interface AttemptRecord {
  n: number;
  pilot: string;
  host: string;
  jobid?: string;
  started: number;
  ended?: number;
  phase?: string;
  exit?: number;
  reason?: string;
}

/** An entry of the `error` list (SURF picasclient's shape plus exit code and stderr tail). */
export interface TokenErrorEntry {
  time: number;
  message: string;
  phase?: string;
  exit_code?: number;
  stderr_tail?: string;
}

export const MAX_ATTEMPT_RECORDS = 20;
export const MAX_ERROR_RECORDS = 20;
export const STDERR_TAIL_CHARS = 4000;
export const LEASE_EXPIRED = 'lease expired';
/** Statuses with a protocol meaning: a payload status line may not pose as one of them. */
export const PROTOCOL_STATUSES = ['todo', 'locked', 'done', 'error', 'staging'];

export type Patched = { doc: TokenDoc };
export type Skipped = { skip: string };
/** The token's lease is not ours any more (reset, reclaimed, finished or deleted). */
export interface LeaseLost {
  lost: true;
  /** The lease id now on the token, if any. */
  holder: string | undefined;
}

export interface ClaimInput {
  leaseId: string;
  pilot: string;
  host: string;
  jobIds: JobIds;
  now: number;
  /** Lease length when the token has no `lease_s` of its own. */
  leaseSeconds: number;
}

export interface ReclaimInput extends ClaimInput {
  /** A token whose lease expired this many times in a row goes to error instead. */
  maxAttempts: number;
}

export type ReclaimResult =
  | { doc: TokenDoc; outcome: 'claimed' }
  | { doc: TokenDoc; outcome: 'errored'; reason: string }
  | Skipped;

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

// ---------------------------------------------------------------- reading a token

/**
 * `value == 0` as the views compute it (GRID_LRT compares with JavaScript `==`): 0, "0", "", false
 * and [] are free, a missing or null field is not. Anything the todo view lists must be claimable,
 * or it stays in the view for ever and a page full of such tokens hides the claimable ones.
 */
function isZero(value: unknown): boolean {
  return value !== null && value !== undefined && Number(value) === 0;
}

export function leaseOf(doc: TokenDoc): Lease | undefined {
  const lease = doc.lease as Partial<Lease> | undefined;
  if (!lease || typeof lease !== 'object' || typeof lease.id !== 'string') return undefined;
  return lease as Lease;
}

export function attemptsOf(doc: TokenDoc): AttemptRecord[] {
  if (!Array.isArray(doc.attempts)) return [];
  return doc.attempts.filter(
    (a): a is AttemptRecord => !!a && typeof a === 'object' && typeof a.n === 'number',
  );
}

function timesOf(doc: TokenDoc): Record<string, number> {
  const times = doc.times;
  return times && typeof times === 'object' && !Array.isArray(times)
    ? { ...(times as Record<string, number>) }
    : {};
}

function scrubCount(doc: TokenDoc): number {
  const n = Number(doc.scrub_count);
  return Number.isFinite(n) ? n : 0;
}

/** The token's own `lease_s` wins over the pilot's setting. */
export function leaseLength(doc: TokenDoc, fallback: number): number {
  const own = doc.lease_s;
  return typeof own === 'number' && Number.isFinite(own) && own > 0 ? own : fallback;
}

export function isClaimable(doc: TokenDoc): boolean {
  return claimBlocker(doc) === undefined;
}

function claimBlocker(doc: TokenDoc): string | undefined {
  if (!isZero(doc.done)) return `token ${doc._id} is finished (done=${String(doc.done)})`;
  if (!isZero(doc.lock)) return `token ${doc._id} is locked (lock=${String(doc.lock)})`;
  if (doc.status === 'staging') return `token ${doc._id} is still staging its inputs`;
  return undefined;
}

function fence(doc: TokenDoc, leaseId: string): Lease | LeaseLost {
  const lease = leaseOf(doc);
  if (lease?.id !== leaseId) return { lost: true, holder: lease?.id };
  return lease;
}

// ---------------------------------------------------------------- list helpers

function lastItems<T>(list: T[], max: number): T[] {
  return list.length > max ? list.slice(list.length - max) : list;
}

/** Closes attempt `n` (or, failing that, the last open one) with `fields`. */
function closeAttempt(attempts: AttemptRecord[], n: number | undefined, fields: Partial<AttemptRecord>) {
  let index = attempts.findIndex((a) => a.n === n && a.ended === undefined);
  if (index < 0 && attempts.at(-1)?.ended === undefined) index = attempts.length - 1;
  if (index < 0) return { attempts, closed: undefined };
  const closed = { ...attempts[index]!, ...fields };
  return { attempts: attempts.map((a, i) => (i === index ? closed : a)), closed };
}

function appendError(existing: unknown, entry: TokenErrorEntry): unknown[] {
  let list: unknown[] = [];
  if (Array.isArray(existing)) list = existing;
  else if (existing !== undefined && existing !== null && existing !== '') list = [existing];
  return lastItems([...list, entry], MAX_ERROR_RECORDS);
}

function withoutLease(doc: TokenDoc): TokenDoc {
  const { lease: _lease, ...rest } = doc;
  return rest as TokenDoc;
}

// ---------------------------------------------------------------- claim and reclaim

function applyClaim(doc: TokenDoc, input: ClaimInput): TokenDoc {
  const attempts = attemptsOf(doc);
  const n = attempts.reduce((max, a) => Math.max(max, a.n), 0) + 1;
  const jobid = primaryJobId(input.jobIds);
  const record: AttemptRecord = {
    n,
    pilot: input.pilot,
    host: input.host,
    ...(jobid ? { jobid } : {}),
    started: input.now,
  };
  const jobFields: Record<string, string> = {};
  for (const [field, value] of Object.entries(input.jobIds))
    if (/_job_id$/.test(field)) jobFields[field] = value;
  const lease: Lease = {
    id: input.leaseId,
    pilot: input.pilot,
    host: input.host,
    expires: input.now + leaseLength(doc, input.leaseSeconds),
    renewed: input.now,
    attempt: n,
  };
  return {
    ...doc,
    ...jobFields,
    lock: input.now,
    status: 'locked',
    hostname: input.host,
    progress: 0,
    lease,
    times: { ...timesOf(doc), locked: input.now },
    attempts: lastItems([...attempts, record], MAX_ATTEMPT_RECORDS),
  };
}

/** Claim a free token: `lock==0 && done==0` and not staging, else a reason to skip it. */
export function claimPatch(doc: TokenDoc, input: ClaimInput): Patched | Skipped {
  const blocker = claimBlocker(doc);
  if (blocker) return { skip: blocker };
  // An attempt still open on a free token was ended by a reset its pilot never saw.
  const { attempts } = closeAttempt(attemptsOf(doc), undefined, { ended: input.now, reason: 'reset' });
  return { doc: applyClaim({ ...doc, attempts }, input) };
}

/** Leases that expired one after another at the end of the history (this one included). */
function expiredInARow(attempts: AttemptRecord[]): number {
  let count = 0;
  for (let i = attempts.length - 1; i >= 0 && attempts[i]!.reason === LEASE_EXPIRED; i--) count++;
  return count;
}

/**
 * Take over a token whose pilot died (its lease expired): scrub_count+1 and a new claim, or,
 * after `maxAttempts` expiries in a row, `error` with the reason.
 */
export function reclaimPatch(doc: TokenDoc, input: ReclaimInput): ReclaimResult {
  const lease = leaseOf(doc);
  if (!isZero(doc.done)) return { skip: `token ${doc._id} is finished (done=${String(doc.done)})` };
  if (isZero(doc.lock) || !lease) return { skip: `token ${doc._id} is not held under a lease` };
  if (!(lease.expires <= input.now)) {
    return { skip: `token ${doc._id}: the lease of pilot ${lease.pilot} runs until ${lease.expires}` };
  }
  let { attempts, closed } = closeAttempt(attemptsOf(doc), lease.attempt, {
    ended: input.now,
    reason: LEASE_EXPIRED,
  });
  if (!closed) {
    // The record fell off the bounded list or an older tool rewrote it: rebuild it from the lease.
    closed = {
      n: lease.attempt,
      pilot: lease.pilot,
      host: lease.host,
      started: Number(doc.lock),
      ended: input.now,
      reason: LEASE_EXPIRED,
    };
    attempts = lastItems([...attempts, closed], MAX_ATTEMPT_RECORDS);
  }
  const base: TokenDoc = { ...doc, scrub_count: scrubCount(doc) + 1, attempts };
  const expired = expiredInARow(attempts);
  if (expired < input.maxAttempts) return { doc: applyClaim(base, input), outcome: 'claimed' };

  const reason = `lease expired ${expired} times; last pilot ${lease.pilot} on host ${lease.host}`;
  const phase = closed.phase ?? (typeof doc.status === 'string' ? doc.status : undefined);
  return {
    outcome: 'errored',
    reason,
    doc: {
      ...withoutLease(base),
      done: input.now,
      status: 'error',
      times: { ...timesOf(doc), error: input.now },
      error: appendError(doc.error, { time: input.now, message: reason, ...(phase ? { phase } : {}) }),
      launcher_status: reason,
    },
  };
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
