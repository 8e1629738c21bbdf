import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedCouch, startEmbeddedCouch } from '../../src/dbserver';
import { openPicas } from '../../src/picas/client';
import { couchDispatcherWith } from '../../src/picas/couchHttp';
import type { DbWaitNotice } from '../../src/picas/dbRetry';
import { fetchView } from '../../src/picas/viewRead';

/*
 * A view read whose index takes longer to build than the server's request timeout: CouchDB answers
 * HTTP 500 "timeout" and goes on building; the client waits longer than that for a view read's
 * headers, hears the answer, says so and asks again until the index is there. The embedded server
 * does the same (it used to hold the request until the build was over, past the client's limit).
 */

const PASSWORD = 'view-timeout-pw';
const DOCS = 1500;
/** About 1 ms of work per document: the index takes well over the server's timeout below. */
const SLOW_MAP = 'function (doc) { var t = Date.now(); while (Date.now() - t < 1) {} emit(doc.n, null); }';

describe('a view read that outlives the request timeout', () => {
  let server: EmbeddedCouch;
  const db = 'slow_index';
  const auth = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` };
  beforeAll(async () => {
    server = await startEmbeddedCouch({ adminPassword: PASSWORD, viewTimeoutMs: 250 });
    const json = { ...auth, 'content-type': 'application/json' };
    await fetch(`${server.url}/${db}`, { method: 'PUT', headers: json });
    const docs = Array.from({ length: DOCS }, (_, n) => ({ _id: `d${String(n).padStart(5, '0')}`, n }));
    await fetch(`${server.url}/${db}/_bulk_docs`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ docs }),
    });
  });
  afterAll(async () => server?.close());

  it("the embedded server answers CouchDB's 500 timeout and keeps building; fetchView waits, says so, and reads every row", async () => {
    const json = { ...auth, 'content-type': 'application/json' };
    const design = { _id: '_design/slow', views: { byN: { map: SLOW_MAP } } };
    await fetch(`${server.url}/${db}/_design/slow`, {
      method: 'PUT',
      headers: json,
      body: JSON.stringify(design),
    });

    const first = await fetch(`${server.url}/${db}/_design/slow/_view/byN?limit=1`, { headers: auth });
    expect(first.status).toBe(500);
    expect(await first.json()).toEqual({
      error: 'timeout',
      reason: 'The request could not be processed in a reasonable amount of time.',
    });

    const picas = openPicas({ url: server.url, database: db, user: 'admin', password: PASSWORD });
    const notices: DbWaitNotice[] = [];
    picas.onWait = (notice) => notices.push(notice);
    const answer = await fetchView(picas, 'slow', 'byN', {});
    expect(answer.rows.map((row) => row.key)).toEqual(Array.from({ length: DOCS }, (_, n) => n));
    expect(notices.length).toBeGreaterThan(0);
    expect(notices.every((n) => n.kind === 'index')).toBe(true);
    expect(notices[0]!.message).toContain('still building the view index');
  });
});

describe('the PiCaS client waits longer for a view read than for any other reply', () => {
  let slow: Server;
  let base: string;
  beforeAll(async () => {
    // Answers everything after 2.5 s (undici checks its limits on a timer of about half a second), as a server busy with an index answers a view read.
    slow = createServer((_req, res) => {
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"rows":[]}'), 2500);
    });
    await new Promise<void>((done) => slow.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
  });
  afterAll(async () => new Promise<void>((done) => slow.close(() => done())));

  it('a document read gives up at the reply limit; a view read, GET or POST, waits for its own', async () => {
    const dispatcher = couchDispatcherWith({ connectMs: 1000, replyMs: 200, viewHeadersMs: 10_000 });
    const doc = await request(`${base}/db/t_1`, { dispatcher }).then(
      () => 'answered',
      (err: unknown) => err,
    );
    expect((doc as { code?: string }).code, String(doc)).toBe('UND_ERR_HEADERS_TIMEOUT');
    const get = await request(`${base}/db/_design/claim%3Atype/_view/todo?limit=1`, { dispatcher });
    expect(get.statusCode).toBe(200);
    expect(await get.body.json()).toEqual({ rows: [] });
    const post = await request(`${base}/db/_design/views/_view/done`, {
      method: 'POST',
      body: '{"keys":[1]}',
      dispatcher,
    });
    expect(post.statusCode).toBe(200);
    await post.body.dump();
  });
});
