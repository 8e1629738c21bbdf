import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

/*
 * The test suite's databases. Every database a test file makes (createTestDatabase, or a name a
 * command under test may create, given to trackDatabase) is recorded here and dropped after the
 * file by dropDatabasesAfterFile.ts (vitest setupFiles), whatever the test did: on a shared
 * CouchDB (COUCHDB_URL) a run leaves nothing behind. globalSetup.ts checks that at the end.
 */

export interface TestDatabase {
  /** Server base URL with admin credentials. */
  serverUrl: string;
  /** Admin user and password parsed from serverUrl. */
  user: string;
  password: string;
  /** Server base URL without credentials. */
  baseUrl: string;
  name: string;
  drop(): Promise<void>;
}

export function couchServerUrl(): string {
  return inject('couchUrl');
}

/**
 * Node `i` of the server (round robin), with admin credentials: on the cluster stand-in each node
 * is a coordinator of its own, so claimers and pilots spread over them race as on a real cluster.
 */
export function couchNodeUrl(i: number): string {
  const urls = inject('couchUrls');
  return urls[i % urls.length]!;
}

/**
 * The query a correct cluster client puts on its writes (docs/protocol.md, Cluster rules): `?w=n`
 * on a cluster, nothing on one server. A write with the default quorum can be answered 201 and
 * still lose to a rival revision; the tests' "other party" writers must not lose writes that way.
 */
export function writeQuorumQuery(): string {
  const urls = inject('couchUrls');
  return inject('couchKind') === 'cluster' || urls.length > 1 ? `?w=${urls.length}` : '';
}

/** The same without credentials. */
export function couchNodeBaseUrl(i: number): string {
  return splitCredentials(couchNodeUrl(i)).baseUrl;
}

function splitCredentials(serverUrl: string) {
  const parsed = new URL(serverUrl);
  const user = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  parsed.username = '';
  parsed.password = '';
  return { user, password, baseUrl: parsed.toString().replace(/\/$/, '') };
}

export function adminAuthHeader(): string {
  const { user, password } = splitCredentials(couchServerUrl());
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Databases of this test file not dropped yet (each test file runs in its own module graph). */
const tracked = new Set<string>();

/**
 * Records `name` for dropping after this test file: for databases a command under test creates
 * (`lrt tokens create`, ensureDatabase), or should not create but might. Returns `name`.
 */
export function trackDatabase(name: string): string {
  tracked.add(name);
  return name;
}

/** DELETE /name as admin; a database that is not there counts as dropped. */
async function deleteDatabase(name: string): Promise<void> {
  const { baseUrl } = splitCredentials(couchServerUrl());
  const res = await fetch(`${baseUrl}/${encodeURIComponent(name)}`, {
    method: 'DELETE',
    headers: { authorization: adminAuthHeader() },
  });
  await res.arrayBuffer();
  if (!res.ok && res.status !== 404)
    throw new Error(`could not drop test database ${name}: HTTP ${res.status}`);
  tracked.delete(name);
}

/** Drops every database of this test file still recorded (dropDatabasesAfterFile.ts, afterAll). */
export async function dropTrackedDatabases(): Promise<void> {
  const failures: string[] = [];
  for (const name of [...tracked]) {
    await deleteDatabase(name).catch((err: unknown) => failures.push(String(err)));
  }
  if (failures.length) throw new Error(failures.join('\n'));
}

/** Names of every database on the server (`_all_dbs`). */
export async function listDatabases(serverUrl = couchServerUrl()): Promise<string[]> {
  const { user, password, baseUrl } = splitCredentials(serverUrl);
  const res = await fetch(`${baseUrl}/_all_dbs`, {
    headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
  });
  if (!res.ok) throw new Error(`_all_dbs: HTTP ${res.status}`);
  return (await res.json()) as string[];
}

/**
 * What a write to the database would change, comparable across reads on an Apache CouchDB
 * cluster (where `update_seq` is opaque and differs between reads with no write in between):
 * every document, design documents and deleted ones included, with all its leaf revisions, from
 * `_changes?style=all_docs`, sorted by id. Any document write (create, update, delete, attachment,
 * conflicting revision) changes a revision or adds one, so two equal fingerprints mean no write.
 */
export async function databaseFingerprint(db: Pick<TestDatabase, 'baseUrl' | 'name'>): Promise<string> {
  const res = await fetch(`${db.baseUrl}/${encodeURIComponent(db.name)}/_changes?style=all_docs`, {
    headers: { authorization: adminAuthHeader() },
  });
  if (!res.ok) throw new Error(`_changes of ${db.name}: HTTP ${res.status}`);
  const body = (await res.json()) as {
    results: { id: string; deleted?: boolean; changes: { rev: string }[] }[];
  };
  const byId = new Map<string, string>();
  for (const row of body.results) {
    const revs = row.changes.map((c) => c.rev).sort();
    byId.set(row.id, `${row.deleted ? 'deleted ' : ''}${revs.join(' ')}`);
  }
  return JSON.stringify([...byId].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * A fresh database per test file (or test) with an explicit admin and `_security`, as on
 * CouchDB 3.x where databases are admin-only. Names are random so files run in parallel. It is
 * dropped after the test file at the latest; `drop()` drops it sooner.
 */
export async function createTestDatabase(prefix = 'lrt_test'): Promise<TestDatabase> {
  const serverUrl = couchServerUrl();
  const { user, password, baseUrl } = splitCredentials(serverUrl);
  const name = trackDatabase(`${prefix}_${randomBytes(5).toString('hex')}`);
  const headers = { authorization: adminAuthHeader(), 'content-type': 'application/json' };
  const created = await fetch(`${baseUrl}/${name}`, { method: 'PUT', headers });
  if (created.status !== 201 && created.status !== 202) {
    throw new Error(`could not create test database ${name}: HTTP ${created.status} ${await created.text()}`);
  }
  const security = { admins: { names: [user], roles: [] }, members: { names: [user], roles: [] } };
  const secured = await fetch(`${baseUrl}/${name}/_security`, {
    method: 'PUT',
    headers,
    body: JSON.stringify(security),
  });
  if (!secured.ok) throw new Error(`could not set _security on ${name}: HTTP ${secured.status}`);
  return {
    serverUrl,
    user,
    password,
    baseUrl,
    name,
    // A failed drop stays recorded: dropTrackedDatabases tries again after the file, and fails it.
    drop: () => deleteDatabase(name).catch(() => undefined),
  };
}
