import type { TestProject } from 'vitest/node';
import { startEmbeddedCouch } from '../../src/dbserver';
import { listDatabases } from './couch';

declare module 'vitest' {
  export interface ProvidedContext {
    /** CouchDB-API base URL with admin credentials: COUCHDB_URL, or the embedded server. */
    couchUrl: string;
    couchKind: 'embedded' | 'external';
  }
}

/**
 * The databases the run left on the server (compared with those there before it). Test files drop
 * theirs (dropDatabasesAfterFile.ts); one left here was made outside createTestDatabase /
 * trackDatabase. On the embedded server that fails the run; on an external one, which others may
 * use at the same time, it is a warning.
 */
async function checkNothingLeft(url: string, before: Set<string>, strict: boolean): Promise<void> {
  const left = (await listDatabases(url)).filter((name) => !before.has(name));
  if (left.length === 0) return;
  const message =
    `the test run left ${left.length} database(s) on the server: ${left.join(', ')} ` +
    '(make test databases with createTestDatabase, or trackDatabase() a name a command may create)';
  // vitest reports an error thrown here but still exits 0: set the exit code ourselves.
  console.error(`${strict ? 'ERROR' : 'WARNING'}: ${message}`);
  if (strict) process.exitCode = 1;
}

/** One CouchDB-API server for the whole run; COUCHDB_URL points the suite at a real CouchDB instead. */
export default async function setup(project: TestProject) {
  const external = process.env.COUCHDB_URL;
  if (external) {
    const url = external.replace(/\/$/, '');
    const before = new Set(await listDatabases(url));
    project.provide('couchUrl', url);
    project.provide('couchKind', 'external');
    return () => checkNothingLeft(url, before, false);
  }
  const server = await startEmbeddedCouch();
  const before = new Set(await listDatabases(server.urlWithCredentials));
  project.provide('couchUrl', server.urlWithCredentials);
  project.provide('couchKind', 'embedded');
  return async () => {
    try {
      await checkNothingLeft(server.urlWithCredentials, before, true);
    } finally {
      await server.close();
    }
  };
}
