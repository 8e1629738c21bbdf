import { type HttpFaultProxy, startHttpFaultProxy } from '../../chaos/support/httpFaultProxy';

/**
 * An HTTP proxy in front of the database whose replies carry a Date header moved by `shiftMs`:
 * to the pilots behind it, the database's clock runs that far ahead of (or behind) theirs.
 */
export type DateShiftProxy = HttpFaultProxy;

export function startDateShiftProxy(target: string, shiftMs: number): Promise<DateShiftProxy> {
  return startHttpFaultProxy(target, () => undefined, {
    replyHeaders: (headers) => {
      const date = Date.parse(headers.date ?? '');
      return Number.isFinite(date) ? { ...headers, date: new Date(date + shiftMs).toUTCString() } : headers;
    },
  });
}
