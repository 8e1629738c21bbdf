/*
 * How far the database server's clock is from ours, from the Date header of its replies
 * (docs/protocol.md, Lease safety). The header holds whole seconds, and the server wrote it at
 * some moment between our sending the request and our receiving the reply, so one reply bounds
 * (server time - local time) to an interval; more replies narrow it.
 */

/** Bounds, in ms, of (server clock - local clock). */
export interface OffsetBounds {
  low: number;
  high: number;
}

/**
 * What one reply tells: the server's clock read between `date` and `date` + 1 s, at a local time
 * between `sentAt` and `receivedAt` (epoch ms). Undefined for a missing or unreadable header.
 */
export function offsetBoundsOf(
  date: string | undefined,
  sentAt: number,
  receivedAt: number,
): OffsetBounds | undefined {
  if (!date || receivedAt < sentAt) return undefined;
  const serverSecond = Date.parse(date);
  if (!Number.isFinite(serverSecond)) return undefined;
  return { low: serverSecond - receivedAt, high: serverSecond + 1000 - sentAt };
}

/**
 * What is known, narrowed by a new reply. A reply that contradicts it (a clock was stepped, or the
 * clocks drifted apart) replaces it: the newest reply is never wrong by more than its own width.
 */
export function narrowOffset(known: OffsetBounds | undefined, sample: OffsetBounds): OffsetBounds {
  if (!known) return sample;
  const low = Math.max(known.low, sample.low);
  const high = Math.min(known.high, sample.high);
  return low <= high ? { low, high } : sample;
}

/** The offset to use: the middle of the bounds, off by at most half their width; 0 before any reply. */
export function offsetEstimate(known: OffsetBounds | undefined): number {
  return known ? Math.round((known.low + known.high) / 2) : 0;
}
