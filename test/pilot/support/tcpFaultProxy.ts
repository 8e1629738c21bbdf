import { once } from 'node:events';
import { createServer, type Server, Socket } from 'node:net';

/**
 * A TCP proxy in front of the database that can stop answering on demand:
 * - `pass`: bytes flow both ways;
 * - `hang`: connections are accepted (new and open ones) and nothing more happens: requests are
 *   swallowed, no reply ever comes (a stuck server or a black-holed route);
 * - `reset`: connections are reset as soon as a request arrives (a server restarting);
 * - `unauthorized`: every request is answered 401 by the proxy itself (a password changed).
 * Connections that hung are reset when the proxy passes again (their bytes are lost).
 */
export type TcpFaultMode = 'pass' | 'hang' | 'reset' | 'unauthorized';

export interface TcpFaultProxy {
  port: number;
  /** `url` (with its credentials) pointed at the proxy. */
  via(url: string): string;
  setMode(mode: TcpFaultMode): void;
  /** When (epoch ms) each HTTP request arrived, by the mode the proxy was in (found by request line). */
  requests: Record<TcpFaultMode, number[]>;
  close(): Promise<void>;
}

const REQUEST_LINE = /^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/;

function unauthorizedReply(): string {
  const body = JSON.stringify({ error: 'unauthorized', reason: 'Name or password is incorrect.' });
  return [
    'HTTP/1.1 401 Unauthorized',
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    `Date: ${new Date().toUTCString()}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

export async function startTcpFaultProxy(target: string): Promise<TcpFaultProxy> {
  const upstreamUrl = new URL(target);
  let mode: TcpFaultMode = 'pass';
  const requests: Record<TcpFaultMode, number[]> = { pass: [], hang: [], reset: [], unauthorized: [] };
  const hung = new Set<Socket>();
  const open = new Set<Socket>();

  const server: Server = createServer((client) => {
    open.add(client);
    const upstream = new Socket();
    open.add(upstream);
    const closeBoth = () => {
      hung.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', () => {
      open.delete(client);
      closeBoth();
    });
    upstream.on('close', () => {
      open.delete(upstream);
      closeBoth();
    });
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
    upstream.connect(Number(upstreamUrl.port), upstreamUrl.hostname);

    client.on('data', (chunk: Buffer) => {
      if (REQUEST_LINE.test(chunk.toString('latin1', 0, 200))) requests[mode].push(Date.now());
      if (hung.has(client) || mode === 'hang') {
        hung.add(client);
        return;
      }
      if (mode === 'reset') {
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      if (mode === 'unauthorized') {
        client.end(unauthorizedReply());
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (hung.has(client) || mode === 'hang') {
        hung.add(client);
        return;
      }
      client.write(chunk);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('tcp fault proxy: no port');
  const port = address.port;
  return {
    port,
    requests,
    via(url) {
      const u = new URL(url);
      u.host = `127.0.0.1:${port}`;
      return u.toString().replace(/\/$/, '');
    },
    setMode(next) {
      mode = next;
      if (next === 'pass') {
        for (const socket of hung) socket.resetAndDestroy();
        hung.clear();
      }
    },
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
