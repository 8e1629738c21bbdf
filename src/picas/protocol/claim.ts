import { type JobIds, primaryJobId } from '../jobIds';
import { type AttemptRecord, type Lease, type TokenDoc, withFields } from '../tokenDoc';
import {
  attemptsOf,
  claimBlocker,
  closeAttempt,
  lastItems,
  leaseLength,
  MAX_ATTEMPT_RECORDS,
  type Patched,
  type Skipped,
  timesOf,
} from './leaseRecord';

/* Transition todo -> locked (docs/protocol.md, Claim): the token as read in, the document to PUT out. */

export interface ClaimInput {
  leaseId: string;
  pilot: string;
  host: string;
  jobIds: JobIds;
  now: number;
  /** Lease length when the token has no `lease_s` of its own. */
  leaseSeconds: number;
}

export function applyClaim(doc: TokenDoc, input: ClaimInput): TokenDoc {
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
    lock: input.now,
  };
  return {
    ...withFields(doc, jobFields),
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
