import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type HttpFaultProxy, startHttpFaultProxy } from '../chaos/support/httpFaultProxy';

/*
 * Apache CouchDB building a view index, in front of the embedded server (which indexes at once).
 * On CouchDB a new or changed design document has its whole index built again from the first
 * document; until that is done:
 * - a read that waits for the index (no `stable`/`update`/`stale`) is held, and when the build
 *   outlasts the server's request timeout it is answered HTTP 500
 *   {"error":"timeout","reason":"The request could not be processed in a reasonable amount of time."}
 *   (CouchDB's own words);
 * - a read that does not wait (`update=false|lazy`, `stale=ok|update_after`) gets what the new
 *   index holds so far: nothing (`{"total_rows":0,"offset":0,"rows":[]}`);
 * - `GET /_active_tasks` lists the build as CouchDB 3 does (`type: indexer`, `design_document`,
 *   `changes_done`, `total_changes`, `progress`, a shard as `database`), to server admins only
 *   (401 otherwise).
 * A design document written through this server (PUT, answered 201/202) is built for `buildMs`
 * from then on, unless an index of the same signature was built or is being built already: as
 * CouchDB, which names an index by a hash of the views, `language` and `options` of a design
 * document, not by its id, the document then shares that index. Design documents written
 * around this server count as built; everything else is passed to the embedded server as it is.
 */

export const COUCH_TIMEOUT_REASON = 'The request could not be processed in a reasonable amount of time.';

export interface IndexBuildServer {
  /** `url` (with its credentials) pointed at the stand-in. */
  via(url: string): string;
  /** Design documents (`db/_design/name`) whose build is under way now. */
  building(): string[];
  /** Requests answered with the timeout, and stale reads answered empty, so far. */
  counts: { timeouts: number; staleEmpty: number };
  close(): Promise<void>;
}

export interface IndexBuildOptions {
  /** How long a build lasts. */
  buildMs: number;
  /** The server's request timeout: how long a read waits for the index before the 500. */
  timeoutMs: number;
  /** `Basic ...` of the server admin: who may read `/_active_tasks`. */
  adminAuth: string;
}

interface Build {
  db: string;
  /** The design document whose write started the build (what `/_active_tasks` names). */
  name: string;
  startedAt: number;
  totalChanges: number;
}

interface Written {
  db: string;
  name: string;
  views: string[];
  signature: string;
}

/** What CouchDB's index signature covers: the views (in the order stored), language, options. */
function signatureOf(doc: { views?: unknown; language?: unknown; options?: unknown }): string {
  return JSON.stringify([doc.views ?? {}, doc.language ?? 'javascript', doc.options ?? {}]);
}

/** `/db/_design/name` or `/db/_design%2Fname` of a document path, and the rest after it. */
function designPath(url: URL): { db: string; name: string; rest: string } | undefined {
  const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
  const [db, first, second, ...rest] = parts;
  if (!db || !first) return undefined;
  if (first === '_design' && second) return { db, name: second, rest: rest.join('/') };
  if (first.startsWith('_design/'))
    return { db, name: first.slice(8), rest: [second, ...rest].filter(Boolean).join('/') };
  return undefined;
}

function waitsForIndex(query: URLSearchParams): boolean {
  const update = query.get('update');
  const stale = query.get('stale');
  return update !== 'false' && update !== 'lazy' && stale !== 'ok' && stale !== 'update_after';
}

export async function startIndexBuildServer(
  target: string,
  options: IndexBuildOptions,
): Promise<IndexBuildServer> {
  /** Index builds by database and signature; design documents (db/_design/name) by their index. */
  const builds = new Map<string, Build>();
  const designDocs = new Map<string, { signature: string; views: string[] }>();
  const written = new WeakMap<IncomingMessage, Written>();
  const counts = { timeouts: 0, staleEmpty: 0 };
  const keyOf = (db: string, name: string) => `${db}/_design/${name}`;
  const buildOf = (db: string, signature: string) => `${db}\n${signature}`;
  const running = (build: Build | undefined) =>
    build !== undefined && Date.now() - build.startedAt < options.buildMs ? build : undefined;
  /** The build under way for a design document's index, if any. */
  const active = (db: string, name: string): (Build & { views: string[] }) | undefined => {
    const ddoc = designDocs.get(keyOf(db, name));
    const build = ddoc ? running(builds.get(buildOf(db, ddoc.signature))) : undefined;
    return build && ddoc ? { ...build, views: ddoc.views } : undefined;
  };
  const docCount = async (db: string): Promise<number> => {
    const info = await fetch(`${target}/${encodeURIComponent(db)}`, {
      headers: { authorization: options.adminAuth },
    });
    return info.ok ? Number(((await info.json()) as { doc_count?: number }).doc_count ?? 0) : 0;
  };
  const proxy: HttpFaultProxy = await startHttpFaultProxy(
    target,
    async (req, body) => {
      const url = new URL(req.url ?? '/', 'http://stand-in');
      if (url.pathname === '/_active_tasks') {
        if (req.headers.authorization !== options.adminAuth) {
          return { status: 401, json: { error: 'unauthorized', reason: 'You are not a server admin.' } };
        }
        const now = Date.now();
        const tasks = [...builds.values()]
          .filter((b) => running(b))
          .map((b, i) => {
            const share = Math.min(1, (now - b.startedAt) / options.buildMs);
            const done = Math.floor(share * b.totalChanges);
            return {
              node: 'nonode@nohost',
              pid: `<0.${1000 + i}.0>`,
              type: 'indexer',
              database: `shards/00000000-ffffffff/${b.db}.1765000000`,
              design_document: `_design/${b.name}`,
              changes_done: done,
              total_changes: b.totalChanges,
              progress: b.totalChanges > 0 ? Math.floor((100 * done) / b.totalChanges) : 0,
              started_on: Math.floor(b.startedAt / 1000),
              updated_on: Math.floor(now / 1000),
            };
          });
        return { status: 200, json: tasks };
      }
      const ddoc = designPath(url);
      if (!ddoc) return undefined;
      if (req.method === 'PUT' && ddoc.rest === '') {
        try {
          const doc = JSON.parse(body.toString('utf8')) as {
            views?: Record<string, unknown>;
            language?: string;
            options?: unknown;
            _deleted?: boolean;
          };
          if (!doc._deleted) {
            const views = Object.keys(doc.views ?? {});
            written.set(req, { db: ddoc.db, name: ddoc.name, views, signature: signatureOf(doc) });
          }
        } catch {
          // Not JSON: the server refuses it.
        }
        return undefined;
      }
      const view = /^_view\/([^/]+)$/.exec(ddoc.rest)?.[1];
      const build = view ? active(ddoc.db, ddoc.name) : undefined;
      if (!view || !build?.views.includes(view)) return undefined;
      if (!waitsForIndex(url.searchParams)) {
        counts.staleEmpty++;
        return { status: 200, json: { total_rows: 0, offset: 0, rows: [] } };
      }
      const left = build.startedAt + options.buildMs - Date.now();
      await sleep(Math.max(0, Math.min(left, options.timeoutMs)));
      if (active(ddoc.db, ddoc.name)) {
        counts.timeouts++;
        return { status: 500, json: { error: 'timeout', reason: COUCH_TIMEOUT_REASON } };
      }
      return undefined;
    },
    {
      onReply: (req, status) => {
        const doc = written.get(req);
        if (!doc || (status !== 201 && status !== 202)) return;
        designDocs.set(keyOf(doc.db, doc.name), { signature: doc.signature, views: doc.views });
        // An index of this signature exists (built, or being built): the document shares it.
        if (builds.has(buildOf(doc.db, doc.signature))) return;
        const build: Build = { db: doc.db, name: doc.name, startedAt: Date.now(), totalChanges: 0 };
        builds.set(buildOf(doc.db, doc.signature), build);
        void docCount(doc.db).then((n) => {
          build.totalChanges = n;
        });
      },
    },
  );
  return {
    via: proxy.via,
    building: () =>
      [...designDocs.keys()].filter((key) => {
        const [db, name] = key.split('/_design/') as [string, string];
        return active(db, name) !== undefined;
      }),
    counts,
    close: proxy.close,
  };
}
