import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Route {
  status?: number;
  body?: Buffer | string;
  /** Hold the response this long: makes concurrent pilots pile up on the cache lock. */
  delayMs?: number;
  /** Which validators to send: an ETag of the body (default), Last-Modified, or none. */
  validators?: 'etag' | 'last-modified' | 'none';
  /** The Last-Modified date sent with validators 'last-modified'. */
  lastModified?: Date;
}

export interface TarServer {
  url: (path: string) => string;
  /** GET requests seen for a path (HEAD requests are not counted and do not advance a list). */
  count: (path: string) => number;
  routes: Map<string, Route | Route[]>;
  close: () => Promise<void>;
}

/** A real HTTP server on 127.0.0.1 that counts requests; a route given as a list answers in turn. */
export async function startTarServer(routes: Record<string, Route | Route[]> = {}): Promise<TarServer> {
  const table = new Map(Object.entries(routes));
  const counts = new Map<string, number>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const n = counts.get(path) ?? 0;
    if (req.method !== 'HEAD') counts.set(path, n + 1);
    const entry = table.get(path);
    const route = Array.isArray(entry) ? entry[Math.min(n, entry.length - 1)] : entry;
    setTimeout(
      () => {
        if (!route) {
          res.writeHead(404).end('not found');
          return;
        }
        const body = route.body === undefined ? Buffer.alloc(0) : Buffer.from(route.body);
        const headers: Record<string, string | number> = { 'content-length': body.length };
        const validators = route.validators ?? 'etag';
        if (validators === 'etag') headers.etag = `"${createHash('sha1').update(body).digest('hex')}"`;
        if (validators === 'last-modified')
          headers['last-modified'] = (route.lastModified ?? new Date(0)).toUTCString();
        res.writeHead(route.status ?? 200, headers);
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      req.method === 'HEAD' ? 0 : (route?.delayMs ?? 0),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    count: (path) => counts.get(path) ?? 0,
    routes: table,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
