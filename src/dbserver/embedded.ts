import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { viewEnginePlugin } from './viewEngine';

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
  adminUser?: string;
  /** Generated when absent. */
  adminPassword?: string;
}

export interface EmbeddedCouch {
  /** Base URL without credentials, e.g. `http://127.0.0.1:5984`. */
  url: string;
  /** The same URL with the admin credentials in it (what `lrt db serve` prints). */
  urlWithCredentials: string;
  adminUser: string;
  adminPassword: string;
  close(): Promise<void>;
}

export async function startEmbeddedCouch(options: EmbeddedCouchOptions = {}): Promise<EmbeddedCouch> {
  const host = options.host ?? '127.0.0.1';
  const adminUser = options.adminUser ?? 'admin';
  const adminPassword = options.adminPassword ?? randomBytes(16).toString('hex');
  const dataDir = options.dataDir ? resolve(options.dataDir) : undefined;
  if (dataDir) mkdirSync(dataDir, { recursive: true });

  const PouchDB = requireCjs('pouchdb-core')
    .plugin(requireCjs(dataDir ? 'pouchdb-adapter-leveldb' : 'pouchdb-adapter-memory'))
    .plugin(viewEnginePlugin())
    // express-pouchdb's security wrappers expect db.replicate to exist.
    .plugin(requireCjs('pouchdb-replication'));
  const Pouch = dataDir
    ? PouchDB.defaults({ adapter: 'leveldb', prefix: `${dataDir}/` })
    : PouchDB.defaults({ adapter: 'memory' });

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

  const app = express();
  app.disable('x-powered-by');
  app.use(refuseAnonymousDatabaseChanges);
  app.use('/', pouchApp);

  const server = await new Promise<import('node:http').Server>((done, fail) => {
    const listening = app.listen(options.port ?? 0, host, () => done(listening));
    listening.once('error', fail);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host}:${port}`;
  const credentialed = new URL(url);
  credentialed.username = encodeURIComponent(adminUser);
  credentialed.password = encodeURIComponent(adminPassword);

  return {
    url,
    urlWithCredentials: credentialed.toString().replace(/\/$/, ''),
    adminUser,
    adminPassword,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections?.();
        server.close(() => done());
      }),
  };
}

/**
 * express-pouchdb crashes the whole process on an anonymous `PUT /newdb` once an admin exists
 * (couchdb-rules.md #8). CouchDB answers 401 there: do the same before the request reaches it.
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

function hasSessionCookie(headers: Record<string, unknown>): boolean {
  return typeof headers.cookie === 'string' && headers.cookie.includes('AuthSession=');
}
