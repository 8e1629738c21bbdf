import type { TokenDoc } from './client';
import { type JobIds, primaryJobId } from './jobIds';
import {
  type AttemptRecord,
  appendError,
  attemptsOf,
  claimBlocker,
  closeAttempt,
  isZero,
  LEASE_EXPIRED,
  type Lease,
  lastItems,
  leaseLength,
  leaseOf,
  MAX_ATTEMPT_RECORDS,
  type Patched,
  type Skipped,
  scrubCount,
  timesOf,
  withoutLease,
} from './leaseRecord';

/* Claim and reclaim as pure functions: the token as read in, the document to PUT out. */

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
