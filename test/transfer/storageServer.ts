import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { posix } from 'node:path';

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

/**
 * A small WebDAV-like storage door on 127.0.0.1 (node:http), with switches for the failures
 * the https mover must survive: a connection cut mid-body, a server that ignores Range, a stall.
 */
export interface StorageServer {
  url: string;
  seen: SeenRequest[];
  files: Map<string, Buffer>;
  collections: Set<string>;
  /** Paths whose next plain GET is cut off after half the body. */
  cutNextGet: Set<string>;
  /** Paths served with 200 and the whole body even when a Range was asked for. */
  ignoreRange: Set<string>;
  /** Paths whose GET sends the headers and a few bytes, then nothing. */
  stall: Set<string>;
  /** PUT to the key is answered 307 to the value (another path). */
  redirectPut: Map<string, string>;
  /** adler32 to announce in `Digest` for a path (when asked with Want-Digest). */
  digests: Map<string, string>;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parentCollection(path: string): string {
  const dir = posix.dirname(path.replace(/\/+$/, ''));
  return dir === '/' ? '/' : `${dir}/`;
}

export async function startStorageServer(
  options: { token?: string; tls?: { key: Buffer; cert: Buffer } } = {},
): Promise<StorageServer> {
  const state = {
    seen: [] as SeenRequest[],
    files: new Map<string, Buffer>(),
    collections: new Set<string>(['/']),
    cutNextGet: new Set<string>(),
    ignoreRange: new Set<string>(),
    stall: new Set<string>(),
    redirectPut: new Map<string, string>(),
    digests: new Map<string, string>(),
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const method = req.method ?? 'GET';
    state.seen.push({ method, path, headers: req.headers });
    if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
      await readBody(req);
      res.writeHead(401, { 'content-type': 'text/plain' }).end('token required\n');
      return;
    }
    if (method === 'MKCOL') {
      if (state.collections.has(`${path.replace(/\/+$/, '')}/`)) return res.writeHead(405).end();
      if (!state.collections.has(parentCollection(path))) return res.writeHead(409).end();
      state.collections.add(`${path.replace(/\/+$/, '')}/`);
      return res.writeHead(201).end();
    }
    if (method === 'PUT') {
      const target = state.redirectPut.get(path);
      if (target) {
        req.resume();
        return res.writeHead(307, { location: target }).end();
      }
      const body = await readBody(req);
      if (!state.collections.has(parentCollection(path))) return res.writeHead(409).end('no parent\n');
      state.files.set(path, body);
      return res.writeHead(201).end();
    }
    const file = state.files.get(path);
    if (!file) return res.writeHead(404, { 'content-type': 'text/plain' }).end(`${path} not found\n`);
    if (method === 'HEAD') {
      const headers: Record<string, string> = { 'content-length': String(file.length) };
      const digest = state.digests.get(path);
      if (digest && /adler32/i.test(String(req.headers['want-digest'] ?? '')))
        headers.digest = `adler32=${digest}`;
      return res.writeHead(200, headers).end();
    }
    if (state.stall.has(path)) {
      res.writeHead(200, { 'content-length': String(file.length) });
      res.write(file.subarray(0, 1000));
      return; // never ends
    }
    const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    if (range && !state.ignoreRange.has(path)) {
      const start = Number(range[1]);
      if (start >= file.length) {
        return res.writeHead(416, { 'content-range': `bytes */${file.length}` }).end();
      }
      res.writeHead(206, {
        'content-length': String(file.length - start),
        'content-range': `bytes ${start}-${file.length - 1}/${file.length}`,
      });
      return res.end(file.subarray(start));
    }
    res.writeHead(200, { 'content-length': String(file.length) });
    if (state.cutNextGet.delete(path)) {
      const half = Math.floor(file.length / 2);
      res.write(file.subarray(0, half), () => setTimeout(() => res.socket?.destroy(), 50));
      return;
    }
    res.end(file);
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err) => res.writeHead(500).end(String(err)));
  };
  const server = options.tls ? createTlsServer(options.tls, listener) : createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    ...state,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
