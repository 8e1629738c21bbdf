import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type EmbeddedCouch, startEmbeddedCouch } from '../../src/dbserver';
import { writtenDatabase } from '../../src/dbserver/viewWarmer';

/*
 * `lrt db serve` keeps the claim's index current in the background (viewWarmer.ts), and answers
 * reads that do not wait for the index at once, also while an update of it runs (viewEngine.ts).
 * Each test starts servers of its own: the background build is an option of one server.
 */

const scratch = mkdtempSync(join(tmpdir(), 'lrt-warm-'));
const servers: EmbeddedCouch[] = [];
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => undefined);
  rmSync(scratch, { recursive: true, force: true });
});

let servedCount = 0;

/** In memory each server gets a name space of its own: databases of one name stay apart. */
async function serve(options: Parameters<typeof startEmbeddedCouch>[0]): Promise<EmbeddedCouch> {
  servedCount++;
  const server = await startEmbeddedCouch(
    options?.dataDir ? options : { ...options, memoryPrefix: `warm${servedCount}_` },
  );
  servers.push(server);
  return server;
}

interface ViewAnswer {
  total_rows: number;
}

async function call<T = unknown>(server: EmbeddedCouch, path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${server.url}${path}`, {
    ...init,
    headers: {
      authorization: `Basic ${Buffer.from(`admin:${server.adminPassword}`).toString('base64')}`,
      'content-type': 'application/json',
    },
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body as T;
}

const CLAIM_VIEW = { map: 'function (doc) { if (doc.n !== undefined) emit(doc.n, null); }' };
/** Another map function: views of the same source share one index. */
const OTHER_VIEW = { map: 'function (doc) { if (doc.n !== undefined) emit(doc._id, doc.n); }' };

async function setUp(server: EmbeddedCouch, db: string, docs: number): Promise<void> {
  await call(server, `/${db}`, { method: 'PUT' });
  await call(server, `/${db}/_design/claim:t`, {
    method: 'PUT',
    body: JSON.stringify({ views: { free: CLAIM_VIEW } }),
  });
  await call(server, `/${db}/_design/t`, {
    method: 'PUT',
    body: JSON.stringify({ views: { all: OTHER_VIEW } }),
  });
  const batch = Array.from({ length: docs }, (_, n) => ({ _id: `d${n}`, n }));
  await call(server, `/${db}/_bulk_docs`, { method: 'POST', body: JSON.stringify({ docs: batch }) });
}

/** total_rows of a read that never updates the index: what is indexed now. */
async function indexed(server: EmbeddedCouch, db: string, view: string): Promise<number> {
  return (await call<ViewAnswer>(server, `/${db}/_design/${view}?update=false&limit=0`)).total_rows;
}

describe('the claim index built in the background (lrt db serve)', () => {
  it('indexes the views of the chosen design documents after writes, the others only when read', async () => {
    const server = await serve({ warmDesignPrefixes: ['_design/claim:'] });
    await setUp(server, 'warm_a', 300);
    await server.warmIdle();
    expect(await indexed(server, 'warm_a', 'claim:t/_view/free')).toBe(300);
    expect(await indexed(server, 'warm_a', 't/_view/all')).toBe(0);
    // More writes: warmed again.
    await call(server, '/warm_a/_bulk_docs', {
      method: 'POST',
      body: JSON.stringify({
        docs: [
          { _id: 'x1', n: 1 },
          { _id: 'x2', n: 2 },
        ],
      }),
    });
    await server.warmIdle();
    expect(await indexed(server, 'warm_a', 'claim:t/_view/free')).toBe(302);
  });

  it('warms the databases on disk when it starts', async () => {
    const dataDir = join(scratch, 'data');
    const cold = await serve({ dataDir });
    await setUp(cold, 'warm_b', 200);
    await cold.close();
    servers.splice(servers.indexOf(cold), 1);
    const warm = await serve({ dataDir, warmDesignPrefixes: ['_design/claim:'] });
    await warm.warmIdle();
    expect(await indexed(warm, 'warm_b', 'claim:t/_view/free')).toBe(200);
    expect(await indexed(warm, 'warm_b', 't/_view/all')).toBe(0);
  });

  it('without the option builds nothing in the background', async () => {
    const server = await serve({});
    await setUp(server, 'warm_c', 50);
    await server.warmIdle();
    expect(await indexed(server, 'warm_c', 'claim:t/_view/free')).toBe(0);
  });
});

describe('reads that do not wait for the index', () => {
  it('are answered while an update of the index runs, from the index as it stands', async () => {
    const server = await serve({});
    await setUp(server, 'stale_a', 4000);
    const order: string[] = [];
    // The up-to-date read builds the index of 4,000 documents.
    const upToDate = call<ViewAnswer>(server, '/stale_a/_design/t/_view/all?limit=1').then((body) => {
      order.push('up-to-date');
      return body;
    });
    await new Promise((done) => setTimeout(done, 100));
    const lazy = call<ViewAnswer>(server, '/stale_a/_design/t/_view/all?update=lazy&limit=1').then((body) => {
      order.push('lazy');
      return body;
    });
    const [full, stale] = await Promise.all([upToDate, lazy]);
    expect(order).toEqual(['lazy', 'up-to-date']);
    expect(full.total_rows).toBe(4000);
    expect(stale.total_rows).toBeLessThan(4000);
  });
});

describe('writtenDatabase', () => {
  it('names the database of a write, not of a read, a database create or delete', () => {
    expect(writtenDatabase('POST', '/tokens/_bulk_docs')).toBe('tokens');
    expect(writtenDatabase('PUT', '/my%2Fdb/t_1')).toBe('my/db');
    expect(writtenDatabase('DELETE', '/tokens/t_1')).toBe('tokens');
    expect(writtenDatabase('PUT', '/tokens/t_1/srm.txt')).toBe('tokens');
    expect(writtenDatabase('GET', '/tokens/t_1')).toBeUndefined();
    expect(writtenDatabase('POST', '/tokens/_all_docs')).toBeUndefined();
    expect(writtenDatabase('POST', '/tokens/_design/t/_view/todo')).toBeUndefined();
    expect(writtenDatabase('PUT', '/tokens')).toBeUndefined();
    expect(writtenDatabase('DELETE', '/tokens/')).toBeUndefined();
    expect(writtenDatabase('POST', '/_replicate')).toBeUndefined();
  });
});
