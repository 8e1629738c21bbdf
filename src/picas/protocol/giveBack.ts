import type { TokenDoc } from '../tokenDoc';
import {
  attemptsOf,
  closeAttempt,
  fence,
  type LeaseLost,
  type Patched,
  scrubCount,
  timesOf,
  withoutLease,
} from './leaseRecord';

/* Transition locked -> todo by the pilot that holds it (docs/protocol.md, Give back). */

export interface ReleaseInput {
  now: number;
  reason: string;
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
