import type { TokenDoc } from '../tokenDoc';
import {
  attemptsOf,
  fence,
  type LeaseLost,
  leaseLength,
  type Patched,
  PROTOCOL_STATUSES,
  timesOf,
} from './leaseRecord';

/* Transition locked -> locked with a later `lease.expires` (docs/protocol.md, Renew): the heartbeat. */

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
