import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';

/**
 * An HTTP proxy in front of the database whose replies carry a Date header moved by `shiftMs`:
 * to the pilots behind it, the database's clock runs that far ahead of (or behind) theirs.
 */
export interface DateShiftProxy {
  server: Server;
  /** `url` (with its credentials) pointed at the proxy. */
  via(url: string): string;
  close(): Promise<void>;
}

export async function startDateShiftProxy(target: string, shiftMs: number): Promise<DateShiftProxy> {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (reply) => {
        const date = Date.parse(reply.headers.date ?? '');
        const headers = { ...reply.headers };
        if (Number.isFinite(date)) headers.date = new Date(date + shiftMs).toUTCString();
        res.writeHead(reply.statusCode ?? 502, headers);
        reply.pipe(res);
      },
    );
    forward.on('error', () => req.socket.destroy());
    req.pipe(forward);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('date shift proxy: no port');
  const port = address.port;
  return {
    server,
    via: (url) => {
      const u = new URL(url);
      u.host = `127.0.0.1:${port}`;
      return u.toString().replace(/\/$/, '');
    },
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
