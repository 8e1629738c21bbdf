import { once } from 'node:events';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type Server,
} from 'node:http';

/**
 * An HTTP proxy in front of a database that breaks chosen requests the way a grid network does:
 * `reset` drops the connection before the server sees the request; `lose-reply` lets the server
 * act, then drops the connection before the reply, so the client cannot tell whether it happened;
 * `{status, json}` answers in the server's place without passing the request on.
 */
export type HttpFault = 'reset' | 'lose-reply' | { status: number; json: unknown } | undefined;

export interface HttpFaultProxy {
  server: Server;
  port: number;
  /** `url` (with its credentials) pointed at the proxy. */
  via(url: string): string;
  close(): Promise<void>;
}

export interface HttpProxyOptions {
  /** Rewrites the headers of every reply on its way back (e.g. a shifted Date). */
  replyHeaders?: (headers: IncomingHttpHeaders) => IncomingHttpHeaders;
  /** Sees the status of every reply the server gave (the proxy's own answers are not passed). */
  onReply?: (req: IncomingMessage, status: number) => void;
  /** Holds a request this many ms before passing it on (a slow server). */
  delayMs?: (req: IncomingMessage) => number;
}

export async function startHttpFaultProxy(
  target: string,
  fault: (req: IncomingMessage, body: Buffer) => HttpFault,
  options: HttpProxyOptions = {},
): Promise<HttpFaultProxy> {
  const upstream = new URL(target);
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const chosen = fault(req, body);
    const delay = options.delayMs?.(req) ?? 0;
    if (delay > 0) await new Promise((done) => setTimeout(done, delay));
    if (chosen === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    if (typeof chosen === 'object') {
      const text = JSON.stringify(chosen.json);
      res.writeHead(chosen.status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        date: new Date().toUTCString(),
      });
      res.end(text);
      return;
    }
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (reply) => {
        if (chosen === 'lose-reply') {
          reply.resume();
          reply.on('end', () => req.socket.resetAndDestroy());
          return;
        }
        options.onReply?.(req, reply.statusCode ?? 502);
        res.writeHead(reply.statusCode ?? 502, options.replyHeaders?.(reply.headers) ?? reply.headers);
        reply.pipe(res);
      },
    );
    forward.on('error', () => req.socket.destroy());
    forward.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  const port = address.port;
  return {
    server,
    port,
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
