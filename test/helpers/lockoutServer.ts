import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type HttpFaultProxy, startHttpFaultProxy } from '../chaos/support/httpFaultProxy';

/*
 * CouchDB 3.4+'s account lockout (chttpd_auth_lockout), in front of the embedded server: after
 * `threshold` failed logins (401) of a user from this address, every request of that user is
 * answered HTTP 403 {"error":"forbidden","reason":"Account is temporarily locked due to multiple
 * authentication failures"} (CouchDB's own words), the right password too, until `unlock()`.
 * Every request is logged with its user and the status it got.
 */

export const LOCKOUT_REASON = 'Account is temporarily locked due to multiple authentication failures';

export interface LockoutServer {
  /** `url` (with its credentials) pointed at the stand-in. */
  via(url: string): string;
  /** Lock `user` now, as if the threshold had been reached. */
  lock(user: string): void;
  unlock(user: string): void;
  /** Every request: the Basic user and the status it was answered with. */
  requests: { user: string | undefined; method: string; url: string; status: number }[];
  /**
   * Resolves once every request passed on to the server has its reply in `requests`: what was
   * asked before a `lock()` that follows in the same tick is then counted before it.
   */
  settled(): Promise<void>;
  close(): Promise<void>;
}

function basicUser(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  return decoded.slice(0, decoded.indexOf(':'));
}

export async function startLockoutServer(target: string, threshold = 5): Promise<LockoutServer> {
  const failures = new Map<string, number>();
  const requests: LockoutServer['requests'] = [];
  let passedOn = 0;
  const record = (req: IncomingMessage, status: number) =>
    requests.push({ user: basicUser(req), method: req.method ?? '', url: req.url ?? '', status });
  const proxy: HttpFaultProxy = await startHttpFaultProxy(
    target,
    (req) => {
      const user = basicUser(req);
      if (user === undefined || (failures.get(user) ?? 0) < threshold) {
        passedOn++;
        return undefined;
      }
      record(req, 403);
      return { status: 403, json: { error: 'forbidden', reason: LOCKOUT_REASON } };
    },
    {
      onReply: (req, status) => {
        passedOn--;
        record(req, status);
        const user = basicUser(req);
        if (status === 401 && user !== undefined) failures.set(user, (failures.get(user) ?? 0) + 1);
      },
    },
  );
  return {
    via: proxy.via,
    lock: (user) => failures.set(user, threshold),
    unlock: (user) => failures.delete(user),
    requests,
    settled: async () => {
      while (passedOn > 0) await sleep(5);
    },
    close: proxy.close,
  };
}
