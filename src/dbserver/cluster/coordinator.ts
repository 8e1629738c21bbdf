import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { FanOut } from './fanout';
import { mergedRead } from './mergedRead';
import {
  forwardedHeaders,
  isSuccess,
  jsonReply,
  type NodeAddress,
  type NodeReply,
  type NodeRequest,
  proxyToNode,
  readBody,
  replyJson,
  requestNode,
  sendReply,
} from './nodeHttp';
import { majority, quorumParameter } from './quorum';
import type { ReplicationMesh } from './replication';
import { type Route, routeOf } from './routes';
import { writeBulkDocs, writeDocument, writeEverywhere } from './writes';

/*
 * The cluster's HTTP front. Every node has a listener of its own, as every CouchDB node is a
 * coordinator; a listener's "home" node answers whatever needs one copy only.
 */

export interface ClusterContext {
  nodes: NodeAddress[];
  agent: http.Agent;
  fanOut: FanOut;
  mesh: ReplicationMesh;
}

/** Quorum parameters are the coordinator's; the nodes never see them. */
const COORDINATOR_PARAMETERS = ['w', 'r'];

export async function startCoordinator(
  context: ClusterContext,
  home: number,
  host: string,
  port: number,
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    coordinate(context, home, req, res).catch((err: Error) => {
      if (!res.headersSent) sendReply(res, jsonReply(500, { error: 'unknown_error', reason: err.message }));
      else res.destroy();
    });
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => done());
  });
  return server;
}

async function coordinate(
  context: ClusterContext,
  home: number,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const url = req.url ?? '/';
  const queryStart = url.indexOf('?');
  const path = queryStart < 0 ? url : url.slice(0, queryStart);
  const query = new URLSearchParams(queryStart < 0 ? '' : url.slice(queryStart + 1));
  const method = req.method ?? 'GET';
  const route = routeOf(method, path, query);
  const forwardedPath = withoutCoordinatorParameters(url, path, query);

  if (route.kind === 'home-node') {
    proxyToNode(context.agent, context.nodes[home]!, forwardedPath, req, res);
    return;
  }
  const request: NodeRequest = {
    method,
    path: forwardedPath,
    headers: forwardedHeaders(req.headers),
    body: await readBody(req),
  };
  sendReply(res, await answer(context, home, route, request, query));
}

async function answer(
  context: ClusterContext,
  home: number,
  route: Exclude<Route, { kind: 'home-node' }>,
  request: NodeRequest,
  query: URLSearchParams,
): Promise<NodeReply> {
  const n = context.nodes.length;
  const w = quorumParameter(query.get('w'), majority(n));
  const askHome = (req: NodeRequest) => requestNode(context.agent, context.nodes[home]!, req);
  switch (route.kind) {
    case 'membership': {
      const names = context.nodes.map((_, i) => `node${i + 1}@127.0.0.1`);
      return jsonReply(200, { all_nodes: names, cluster_nodes: names });
    }
    case 'database-info':
      return withClusterInfo(await askHome(request), n);
    case 'database-create': {
      const reply = await writeEverywhere(context, request);
      // 412: it exists already, so it is replicated already (add() leaves it as it is).
      if (isSuccess(reply) || reply.status === 412) context.mesh.add(route.db);
      return reply;
    }
    case 'database-delete':
      // Replication stops before the copies go (replication.ts, remove()).
      return context.mesh.remove(route.db, () => writeEverywhere(context, request), isSuccess);
    case 'database-wide-write':
      return writeEverywhere(context, request);
    case 'document-write':
      return writeDocument(context, request, w);
    case 'document-create': {
      const doc = jsonObject(request.body);
      if (!doc) return badRequest('Document must be a JSON object');
      return writeDocument(context, withBody(request, withId(doc)), w);
    }
    case 'bulk-docs': {
      const body = jsonObject(request.body);
      const docs = body?.docs;
      if (!body || !Array.isArray(docs)) return badRequest('POST body must include `docs` parameter.');
      if (!docs.every(isPlainObject)) return badRequest('Document must be a JSON object');
      const withIds = docs.map(withId);
      const bodyW = quorumParameter(String(body.w ?? ''), w);
      const ids = withIds.map((doc) => String(doc._id));
      return writeBulkDocs(
        context,
        withBody(request, { ...body, docs: withIds }),
        ids,
        body.new_edits !== false,
        bodyW,
      );
    }
    case 'document-read': {
      const r = Math.min(quorumParameter(query.get('r'), majority(n)), n);
      const readFrom = Array.from({ length: r }, (_, i) => (home + i) % n);
      const ask = (node: number, req: NodeRequest) => requestNode(context.agent, context.nodes[node]!, req);
      const queryStart = request.path.indexOf('?');
      const nodeQuery = queryStart < 0 ? '' : request.path.slice(queryStart);
      return mergedRead(ask, {
        docPath: route.docPath,
        nodeQuery,
        headers: request.headers,
        readFrom,
        rev: query.get('rev') ?? undefined,
        conflicts: query.get('conflicts') === 'true',
        revs: query.get('revs') === 'true',
        allLeaves: query.get('open_revs') === 'all',
      });
    }
  }
}

/** A request no replica should see: refused whole, as CouchDB's coordinator does. */
function badRequest(reason: string): NodeReply {
  return jsonReply(400, { error: 'bad_request', reason });
}

/** GET /db as a clustered CouchDB answers it: with the database's shard and quorum figures. */
function withClusterInfo(reply: NodeReply, n: number): NodeReply {
  const info = replyJson(reply);
  if (reply.status !== 200 || !isPlainObject(info)) return reply;
  return jsonReply(200, { ...info, cluster: { q: 1, n, w: majority(n), r: majority(n) } });
}

/**
 * A new document gets its id from the coordinator, as in CouchDB: each replica choosing its own
 * would make N different documents. 32 hex digits, like CouchDB's uuids.
 */
function withId(doc: Record<string, unknown>): Record<string, unknown> {
  return doc._id ? doc : { ...doc, _id: randomBytes(16).toString('hex') };
}

function withBody(request: NodeRequest, body: unknown): NodeRequest {
  return {
    ...request,
    headers: { ...request.headers, 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify(body)),
  };
}

function withoutCoordinatorParameters(url: string, path: string, query: URLSearchParams): string {
  if (!COORDINATOR_PARAMETERS.some((name) => query.has(name))) return url;
  const kept = new URLSearchParams(query);
  for (const name of COORDINATOR_PARAMETERS) kept.delete(name);
  const rest = kept.toString();
  return rest ? `${path}?${rest}` : path;
}

function jsonObject(body: Buffer | undefined): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(body?.toString('utf8') ?? '');
    return isPlainObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
