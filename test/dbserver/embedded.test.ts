import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedCouch, startEmbeddedCouch } from '../../src/dbserver';

describe('embedded CouchDB-API server', () => {
  let server: EmbeddedCouch;
  beforeAll(async () => {
    server = await startEmbeddedCouch({ adminPassword: 'top-secret-pw' });
  });
  afterAll(async () => server?.close());

  const auth = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;

  it('listens on 127.0.0.1 on a free port and prints credentials only in urlWithCredentials', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.url).not.toContain('top-secret-pw');
    expect(server.urlWithCredentials).toBe(server.url.replace('http://', 'http://admin:top-secret-pw@'));
  });

  it('answers like CouchDB: admin creates a database, _security shuts out anonymous and wrong passwords', async () => {
    const admin = { authorization: auth('admin', 'top-secret-pw'), 'content-type': 'application/json' };
    expect((await fetch(`${server.url}/secured`, { method: 'PUT', headers: admin })).status).toBe(201);
    const security = { admins: { names: ['admin'], roles: [] }, members: { names: ['admin'], roles: [] } };
    const put = await fetch(`${server.url}/secured/_security`, {
      method: 'PUT',
      headers: admin,
      body: JSON.stringify(security),
    });
    expect(put.status).toBe(200);

    const anonymous = await fetch(`${server.url}/secured/doc1`, { method: 'PUT', body: '{"a":1}' });
    expect(anonymous.status).toBe(401);
    const wrong = await fetch(`${server.url}/secured/doc1`, {
      method: 'PUT',
      body: '{"a":1}',
      headers: { authorization: auth('admin', 'nope'), 'content-type': 'application/json' },
    });
    expect(wrong.status).toBe(401);
    const ok = await fetch(`${server.url}/secured/doc1`, { method: 'PUT', body: '{"a":1}', headers: admin });
    expect(ok.status).toBe(201);
  });

  it('refuses an anonymous database creation with 401 instead of crashing', async () => {
    const res = await fetch(`${server.url}/anon_db`, { method: 'PUT' });
    expect(res.status).toBe(401);
    expect((await fetch(`${server.url}/`)).status).toBe(200);
  });
});
