import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { serveDb as serve } from '../helpers/cli';

describe('lrt db serve', () => {
  it('prints its URL with generated admin credentials first; with --data the databases survive a restart', async () => {
    const data = await mkdtemp(join(tmpdir(), 'lrt-couch-data-'));
    const first = await serve(['--data', data], { LRT_DB_ADMIN_PASSWORD: 'fixed-pw-1' });
    expect(first.url).toMatch(/^http:\/\/admin:fixed-pw-1@127\.0\.0\.1:\d+$/);
    const parsed = new URL(first.url);
    const base = `http://${parsed.host}`;
    const auth = {
      authorization: `Basic ${Buffer.from('admin:fixed-pw-1').toString('base64')}`,
      'content-type': 'application/json',
    };
    expect((await fetch(`${base}/kept`, { method: 'PUT', headers: auth })).status).toBe(201);
    expect(
      (await fetch(`${base}/kept/doc1`, { method: 'PUT', headers: auth, body: '{"n":42}' })).status,
    ).toBe(201);
    first.child.kill('SIGTERM');
    expect((await first.child).exitCode).toBe(0);

    const second = await serve(['--data', data], { LRT_DB_ADMIN_PASSWORD: 'fixed-pw-1' });
    const base2 = `http://${new URL(second.url).host}`;
    const doc = (await (await fetch(`${base2}/kept/doc1`, { headers: auth })).json()) as { n: number };
    expect(doc.n).toBe(42);
    second.child.kill('SIGTERM');
    await second.child;

    const generated = await serve([]);
    const password = decodeURIComponent(new URL(generated.url).password);
    expect(password).toMatch(/^[0-9a-f]{32}$/);
    generated.child.kill('SIGINT');
    await generated.child;
  });
});
