import { narrowOffset, type OffsetBounds, offsetBoundsOf, offsetEstimate } from './clockOffset';

/** A server's time, as its replies tell it (clockOffset.ts). */
export interface ServerClock {
  /** Epoch ms on the server's clock; the local clock until a reply has said otherwise. */
  now(): number;
  /** The local clock the offset is measured against (epoch ms). */
  local(): number;
  /** Learn from one reply: its Date header, and the local times the request left and the reply came. */
  observe(date: string | undefined, sentAt: number, receivedAt: number): void;
}

export function createServerClock(local: () => number = Date.now): ServerClock {
  let known: OffsetBounds | undefined;
  let offset = 0;
  return {
    now: () => local() + offset,
    local,
    observe(date, sentAt, receivedAt) {
      const sample = offsetBoundsOf(date, sentAt, receivedAt);
      if (!sample) return;
      known = narrowOffset(known, sample);
      offset = offsetEstimate(known);
    },
  };
}
