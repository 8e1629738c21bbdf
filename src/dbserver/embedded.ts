import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { stopLaggingViews } from './laggingViews';
import { installMemoryCatalog } from './memoryCatalog';
import { couchRequestForms } from './requestForms';
import { LAGGING_VIEWS_OPTION, VIEW_TIMEOUT_OPTION, viewEnginePlugin } from './viewEngine';
import { startViewWarmer, type ViewWarmer, type WarmableDb, writtenDatabase } from './viewWarmer';

/*
 * A CouchDB-API server in this process: express-pouchdb over pouchdb-core. Used by the tests,
 * `lrt db serve` and `lrt demo`. These packages are CommonJS and not bundled (see
 * scripts/build.mjs), so they are loaded with require at call time: the pilot never pulls them in.
 */
const requireCjs = createRequire(__filename);

export interface EmbeddedCouchOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Keep databases on disk (LevelDB) in this folder; in memory when absent. */
  dataDir?: string;
  /**
   * In memory, the server's own name space: memdown keeps one store per database name for the
   * whole process, so two servers in one process share their databases unless each has a prefix
   * (the cluster stand-in gives every node one); such a server also lists only its own databases
   * (memoryCatalog.ts). Default: none, the process-wide name space.
   */
  memoryPrefix?: string;
  adminUser?: string;
  /** Generated when absent. */
  adminPassword?: string;
  /**
   * Views that behave like CouchDB's under write load, for tuning (laggingViews.ts): reads answered
   * concurrently from an index that trails the writes by this many ms. Default: pouch's own views.
   */
  laggingViewsMs?: number;
  /**
   * Keep the views of design documents whose id starts with one of these up to date in the
   * background (viewWarmer.ts), e.g. `['_design/claim:']` (what `lrt db serve` gives). Default none:
   * indexes are built when read.
   */
  warmDesignPrefixes?: string[];
  /**
   * How long a view read may wait for its index before it is answered with CouchDB's HTTP 500
   * "timeout" (the build goes on; the client asks again). Default 60 s, CouchDB's own default.
   */
  viewTimeoutMs?: number;
}

export interface EmbeddedCouch {
  /** Base URL without credentials, e.g. `http://127.0.0.1:5984`. */
  url: string;
  /** The same URL with the admin credentials in it (what `lrt db serve` prints). */
  urlWithCredentials: string;
  adminUser: string;
  adminPassword: string;
  /**
   * This server's own copy of a database, in this process (for the cluster stand-in's
   * replication). Never close it: handles of one name share the store, so closing it would close
   * the one the server answers from.
   */
  openDatabase(name: string): LocalDatabase;
  /** Settles when no background index build (warmDesignPrefixes) is running or due. */
  warmIdle(): Promise<void>;
  close(): Promise<void>;
}

/** The part of a PouchDB database the cluster stand-in uses (pouchdb-core ships no types). */
export interface LocalDatabase {
  replicate: {
    to(
      target: LocalDatabase,
      options: { live: boolean; retry: boolean; back_off_function?: (previousMs: number) => number },
    ): LocalReplication;
  };
}

/** Settles once the replication has stopped (after cancel(), or on a fatal error). */
export interface LocalReplication extends PromiseLike<unknown> {
  cancel(): void;
}

/** CouchDB's default request timeout (`[fabric] request_timeout`). */
const DEFAULT_VIEW_TIMEOUT_MS = 60_000;

export async function startEmbeddedCouch(options: EmbeddedCouchOptions = {}): Promise<EmbeddedCouch> {
  const host = options.host ?? '127.0.0.1';
  const adminUser = options.adminUser ?? 'admin';
  const adminPassword = options.adminPassword ?? randomBytes(16).toString('hex');
  const dataDir = options.dataDir ? resolve(options.dataDir) : undefined;
  if (dataDir) mkdirSync(dataDir, { recursive: true });

  const PouchDB = pluggedPouchDB(dataDir ? 'pouchdb-adapter-leveldb' : 'pouchdb-adapter-memory');
  const viewOptions = {
    [VIEW_TIMEOUT_OPTION]: options.viewTimeoutMs ?? DEFAULT_VIEW_TIMEOUT_MS,
    ...(options.laggingViewsMs !== undefined ? { [LAGGING_VIEWS_OPTION]: options.laggingViewsMs } : {}),
  };
  const Pouch = dataDir
    ? PouchDB.defaults({ adapter: 'leveldb', prefix: `${dataDir}/`, ...viewOptions })
    : PouchDB.defaults({
        adapter: 'memory',
        ...(options.memoryPrefix ? { prefix: options.memoryPrefix } : {}),
        ...viewOptions,
      });

  const uninstallCatalog =
    !dataDir && options.memoryPrefix ? installMemoryCatalog(PouchDB, Pouch) : () => undefined;

  const express = requireCjs('express');
  const expressPouchDB = requireCjs('express-pouchdb');
  const pouchApp = expressPouchDB(Pouch, {
    mode: 'fullCouchDB',
    inMemoryConfig: true,
    logPath: dataDir ? join(dataDir, 'log.txt') : '/dev/null',
    // No gzip of responses (CouchDB does not either): on loopback it only burns the server's CPU.
    overrideMode: { exclude: ['routes/fauxton', 'compression'] },
  });
  await new Promise<void>((done, fail) =>
    pouchApp.couchConfig.set('admins', adminUser, adminPassword, (err: unknown) =>
      err ? fail(err) : done(),
    ),
  );

  // CouchDB's ETag of a document is its revision (requestForms.ts), never express's hash of a reply.
  pouchApp.disable('etag');
  let selfUrl = '';
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(refuseAnonymousDatabaseChanges);
  const warmer = options.warmDesignPrefixes?.length
    ? startViewWarmer({
        designPrefixes: options.warmDesignPrefixes,
        open: (name) => new Pouch(name) as WarmableDb,
        databases: () => Pouch.allDbs() as Promise<string[]>,
      })
    : undefined;
  if (warmer) app.use(noteWrites(warmer));
  app.use(couchRequestForms(() => selfUrl));
  app.use('/', pouchApp);

  const server = await new Promise<import('node:http').Server>((done, fail) => {
    const listening = app.listen(options.port ?? 0, host, () => done(listening));
    listening.once('error', fail);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host}:${port}`;
  selfUrl = url;
  // Databases on disk from an earlier run: their indexes may trail what was written then.
  if (warmer && dataDir) for (const name of (await Pouch.allDbs()) as string[]) warmer.written(name);
  const credentialed = new URL(url);
  credentialed.username = encodeURIComponent(adminUser);
  credentialed.password = encodeURIComponent(adminPassword);

  return {
    url,
    urlWithCredentials: credentialed.toString().replace(/\/$/, ''),
    adminUser,
    adminPassword,
    openDatabase: (name) => new Pouch(name),
    warmIdle: () => warmer?.idle() ?? Promise.resolve(),
    close: () =>
      new Promise<void>((done) => {
        warmer?.close();
        uninstallCatalog();
        stopLaggingViews(Pouch);
        server.closeAllConnections?.();
        server.close(() => done());
      }),
  };
}

let pluginsApplied = false;
const registeredAdapters = new Set<string>();

/**
 * pouchdb-core with our plugins and the adapter. Plugins patch the one PouchDB of the process, so
 * they go on once: pouchdb-replication throws when applied twice (a second server in a process).
 */
function pluggedPouchDB(adapterModule: string) {
  const PouchDB = requireCjs('pouchdb-core');
  if (!pluginsApplied) {
    // express-pouchdb's security wrappers expect db.replicate to exist.
    PouchDB.plugin(viewEnginePlugin()).plugin(requireCjs('pouchdb-replication'));
    pluginsApplied = true;
  }
  if (!registeredAdapters.has(adapterModule)) {
    PouchDB.plugin(requireCjs(adapterModule));
    registeredAdapters.add(adapterModule);
  }
  // Each server's express-pouchdb adds up to 4 listeners per event to pouchdb-core's one emitter;
  // several servers in one process (the cluster stand-in's nodes) are expected: no leak warning.
  PouchDB.setMaxListeners(PouchDB.getMaxListeners() + 4);
  return PouchDB;
}

/**
 * express-pouchdb crashes the whole process on an anonymous `PUT /newdb` once an admin exists
 * (docs/couchdb-rules.md #8). CouchDB answers 401 there: do the same before the request reaches it.
 */
function refuseAnonymousDatabaseChanges(
  req: { method: string; path: string; headers: Record<string, unknown> },
  res: { status(code: number): { json(body: unknown): void } },
  next: () => void,
): void {
  const isDatabasePath = /^\/[^/_][^/]*\/?$/.test(req.path);
  const changesDatabase = req.method === 'PUT' || req.method === 'DELETE';
  if (isDatabasePath && changesDatabase && !req.headers.authorization && !hasSessionCookie(req.headers)) {
    res.status(401).json({ error: 'unauthorized', reason: 'You are not a server admin.' });
    return;
  }
  next();
}

/** Tells the warmer of every write that was answered with success. */
function noteWrites(warmer: ViewWarmer) {
  return (
    req: { method: string; path: string },
    res: { statusCode: number; once(event: 'finish', listener: () => void): void },
    next: () => void,
  ): void => {
    const database = writtenDatabase(req.method, req.path);
    if (database !== undefined) {
      res.once('finish', () => {
        if (res.statusCode < 300) warmer.written(database);
      });
    }
    next();
  };
}

function hasSessionCookie(headers: Record<string, unknown>): boolean {
  return typeof headers.cookie === 'string' && headers.cookie.includes('AuthSession=');
}
