import type { AttemptRecord, TokenDoc } from '../tokenDoc';
import { applyClaim, type ClaimInput } from './claim';
import {
  appendError,
  attemptsOf,
  closeAttempt,
  isZero,
  LEASE_EXPIRED,
  lastItems,
  leaseOf,
  MAX_ATTEMPT_RECORDS,
  type Skipped,
  scrubCount,
  takenOverBy,
  timesOf,
  withoutLease,
} from './leaseRecord';

/*
 * Transition locked (lease expired) -> locked by a new pilot, or -> error after too many expiries
 * (docs/protocol.md, Reclaim).
 */

export interface ReclaimInput extends ClaimInput {
  /** A token whose lease expired this many times in a row goes to error instead. */
  maxAttempts: number;
}

export type ReclaimResult =
  | { doc: TokenDoc; outcome: 'claimed' }
  | { doc: TokenDoc; outcome: 'errored'; reason: string }
  | Skipped;

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
  // Our pilot stopped when it saw this; the tool that took the token may still be running it.
  const taker = takenOverBy(doc, lease);
  if (taker !== undefined) {
    return { skip: `token ${doc._id} was taken over by another tool (lock changed by ${taker})` };
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
