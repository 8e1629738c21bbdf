import http from 'node:http';

/* HTTP between the coordinator and one node: buffered requests, and streamed pass-through. */

export interface NodeAddress {
  hostname: string;
  port: number;
}

export interface NodeRequest {
  method: string;
  /** Path and query string, percent-encoded as the client sent them. */
  path: string;
  headers: http.OutgoingHttpHeaders;
  body?: Buffer;
}

export interface NodeReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Connection-level headers are the coordinator's own business on each leg, never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'host',
]);

export function nodeAddress(url: string): NodeAddress {
  const parsed = new URL(url);
  return { hostname: parsed.hostname, port: Number(parsed.port) };
}

/** The client's headers as a node should see them (Authorization and cookies included). */
export function forwardedHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const kept: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) kept[name] = value;
  }
  return kept;
}

const parsedBodies = new WeakMap<NodeReply, unknown>();

/** A reply's JSON body (parsed once per reply), undefined when it is not JSON. */
export function replyJson(reply: NodeReply): unknown {
  if (!parsedBodies.has(reply)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(reply.body.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    parsedBodies.set(reply, parsed);
  }
  return parsedBodies.get(reply);
}

/** A field of a JSON object, undefined for anything else. */
export function fieldOf(value: unknown, name: string): unknown {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[name] : undefined;
}

export function isSuccess(reply: NodeReply): boolean {
  return reply.status >= 200 && reply.status < 300;
}

export function jsonReply(status: number, value: unknown): NodeReply {
  return {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'must-revalidate' },
    body: Buffer.from(`${JSON.stringify(value)}\n`),
  };
}

/** One buffered request. A node that cannot be reached answers 503, as a coordinator would see it. */
export function requestNode(agent: http.Agent, node: NodeAddress, request: NodeRequest): Promise<NodeReply> {
  return new Promise((resolve) => {
    const unreachable = (err: Error) =>
      resolve(jsonReply(503, { error: 'node_unreachable', reason: err.message }));
    const headers = { ...request.headers, 'content-length': request.body?.length ?? 0 };
    const sent = http.request(
      { ...node, method: request.method, path: request.path, headers, agent },
      (reply) => {
        const chunks: Buffer[] = [];
        reply.on('data', (chunk: Buffer) => chunks.push(chunk));
        reply.on('end', () =>
          resolve({ status: reply.statusCode ?? 502, headers: reply.headers, body: Buffer.concat(chunks) }),
        );
        reply.on('error', unreachable);
      },
    );
    sent.on('error', unreachable);
    sent.end(request.body);
  });
}

/** Streams the client's request to a node and the node's answer back (views, _changes feeds...). */
export function proxyToNode(
  agent: http.Agent,
  node: NodeAddress,
  path: string,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): void {
  const headers = forwardedHeaders(req.headers);
  const upstream = http.request({ ...node, method: req.method, path, headers, agent }, (reply) => {
    res.writeHead(reply.statusCode ?? 502, forwardedHeaders(reply.headers));
    reply.pipe(res);
  });
  upstream.on('error', (err) => {
    if (!res.headersSent) sendReply(res, jsonReply(503, { error: 'node_unreachable', reason: err.message }));
    else res.destroy();
  });
  // A client that leaves early (a continuous _changes feed) must not keep the node's side open.
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}

export function sendReply(res: http.ServerResponse, reply: NodeReply): void {
  const headers = forwardedHeaders(reply.headers);
  headers['content-length'] = reply.body.length;
  res.writeHead(reply.status, headers);
  res.end(reply.body);
}

export function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
