import type { TestProject } from 'vitest/node';
import { startCouchCluster, startEmbeddedCouch } from '../../src/dbserver';
import { listDatabases } from './couch';

declare module 'vitest' {
  export interface ProvidedContext {
    /** CouchDB-API base URL with admin credentials: COUCHDB_URL, or the embedded server. */
    couchUrl: string;
    /** Every node's URL with admin credentials: one on a single server, n on the cluster stand-in. */
    couchUrls: string[];
    couchKind: 'embedded' | 'external' | 'cluster';
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

/**
 * One CouchDB-API server for the whole run: the embedded server; with LRT_TEST_CLUSTER=N the
 * N-node cluster stand-in (docs/cluster-standin.md), whose nodes the pilot tests spread over;
 * COUCHDB_URL (a real CouchDB, single node or cluster: comma-separated node URLs) instead.
 */
export default async function setup(project: TestProject) {
  const external = process.env.COUCHDB_URL;
  if (external) {
    const urls = external.split(',').map((url) => url.trim().replace(/\/$/, ''));
    const before = new Set(await listDatabases(urls[0]));
    project.provide('couchUrl', urls[0]!);
    project.provide('couchUrls', urls);
    project.provide('couchKind', 'external');
    return () => checkNothingLeft(urls[0]!, before, false);
  }
  const nodes = Number(process.env.LRT_TEST_CLUSTER ?? 1);
  const server =
    nodes > 1
      ? await startCouchCluster({ nodes })
      : await startEmbeddedCouch().then((one) => ({ urls: [one.urlWithCredentials], close: one.close }));
  const [first] = server.urls as [string];
  const before = new Set(await listDatabases(first));
  project.provide('couchUrl', first);
  project.provide('couchUrls', server.urls);
  project.provide('couchKind', nodes > 1 ? 'cluster' : 'embedded');
  return async () => {
    try {
      await checkNothingLeft(first, before, true);
    } finally {
      await server.close();
    }
  };
}
