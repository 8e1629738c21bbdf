import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

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

/**
 * A fresh database per test file (or test) with an explicit admin and `_security`, as on
 * CouchDB 3.x where databases are admin-only. Names are random so files run in parallel.
 */
export async function createTestDatabase(prefix = 'lrt_test'): Promise<TestDatabase> {
  const serverUrl = couchServerUrl();
  const { user, password, baseUrl } = splitCredentials(serverUrl);
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
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
    drop: async () => {
      await fetch(`${baseUrl}/${name}`, { method: 'DELETE', headers });
    },
  };
}
