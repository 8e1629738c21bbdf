import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lrtProcess, serveDb as serve } from '../helpers/cli';

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

describe('lrt db serve / lrt serve: a port they cannot use', () => {
  it('a port out of range is a usage error naming --port, not a Node option message', async () => {
    for (const args of [
      ['db', 'serve', '--port', '70000'],
      ['serve', '--type', 'demo', '--port', '70000'],
    ]) {
      const result = await lrtProcess(args, { env: { PICAS_URL: 'http://127.0.0.1:9', PICAS_DB: 'x' } });
      expect(result.exitCode, args.join(' ')).toBe(2);
      expect(result.stderr).toContain('--port must be a whole number from 0 to 65535, got "70000"');
      expect(result.stderr).not.toContain('options.port');
    }
  });

  it('a port in use is named with what to do, and a cluster that cannot start exits instead of hanging', async () => {
    const taken = await serve([]);
    try {
      const port = new URL(taken.url).port;
      // lrt serve reads the type before it listens: give it one to read.
      const env = { PICAS_URL: taken.url, PICAS_DB: 'ports' };
      expect(
        (await lrtProcess(['tokens', 'create', '--type', 'demo', '--id-suffix', 'a'], { env })).exitCode,
      ).toBe(0);
      for (const args of [
        ['db', 'serve', '--port', port],
        ['db', 'serve', '--nodes', '2', '--port', port],
        ['serve', '--type', 'demo', '--port', port],
      ]) {
        const result = await lrtProcess(args, { env });
        expect(result.exitCode, `${args.join(' ')}: ${result.stderr}`).toBe(1);
        expect(result.stderr).toContain(
          `cannot listen on 127.0.0.1:${port}: the port is in use; pick another --port`,
        );
      }
    } finally {
      taken.child.kill('SIGTERM');
      await taken.child;
    }
  });
});
