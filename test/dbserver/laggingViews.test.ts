import { tmpdir } from 'node:os';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedCouch, startEmbeddedCouch } from '../../src/dbserver';
import { laggingQuery } from '../../src/dbserver/laggingViews';
import { mapper } from '../../src/dbserver/viewEngine';
import { DIST_LRT, serveDb } from '../helpers/cli';

/*
 * `lrt db serve --lagging-views MS`: view reads as on CouchDB under write load (an index that
 * trails the writes, reads answered concurrently), and CouchDB 3's `update`/`stable` read options
 * on both modes of the embedded server. Each test starts its own servers (not the suite's).
 */

const LAG_MS = 300;
const PASSWORD = 'lagging-pw';
const headers = {
  authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`,
  'content-type': 'application/json',
};

interface ViewRow {
  id: string;
  key: unknown;
  doc?: { lock?: number } | null;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

const rowIds = (res: Record<string, unknown> | undefined) =>
  ((res?.rows ?? []) as Array<{ id: string }>).map((r) => r.id);

/**
 * A source database for laggingQuery alone: `_design/t` with view `free`, a changes feed that
 * delivers `docs`, and a document fetch that can be held back.
 */
function fakeSourceDb(docs: Array<{ _id: string; lock: number }>) {
  let hold = false;
  let release = () => {};
  const held = new Promise<void>((done) => {
    release = done;
  });
  const feed = {
    on(event: string, listener: (change: unknown) => void) {
      if (event === 'change') {
        setImmediate(() => {
          for (const [i, doc] of docs.entries()) listener({ id: doc._id, seq: i + 1, doc });
        });
      }
      return feed;
    },
    cancel() {},
  };
  return {
    name: 'fake',
    constructor: fakeSourceDb,
    info: async () => ({ update_seq: docs.length }),
    get: async () => ({
      views: { free: { map: 'function (doc) { if (doc.lock == 0) emit(doc._id, doc._id); }' } },
    }),
    allDocs: async (opts: Record<string, unknown>) => {
      if (hold) {
        hold = false;
        await held;
      }
      const keys = opts.keys as string[];
      return { rows: keys.map((id) => ({ id, doc: docs.find((d) => d._id === id) })) };
    },
    changes: () => feed as never,
    once() {},
    holdNextDocFetch() {
      hold = true;
    },
    release,
  };
}

async function request(url: string, method = 'GET', body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${method} ${url}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** A database with `_design/t` (view `free`: docs with lock == 0) and docs `a`, `b`. */
async function tokenDb(server: EmbeddedCouch, name: string) {
  const db = `${server.url}/${name}`;
  await request(db, 'PUT');
  await request(`${db}/_design/t`, 'PUT', {
    views: { free: { map: 'function (doc) { if (doc.lock == 0) emit(doc._id, doc._id); }' } },
  });
  const revs = new Map<string, string>();
  for (const id of ['a', 'b']) revs.set(id, String((await request(`${db}/${id}`, 'PUT', { lock: 0 })).rev));
  const view = async (query = '') =>
    (await request(`${db}/_design/t/_view/free${query}`)) as { rows: ViewRow[]; total_rows: number };
  const ids = async (query = '') => (await view(query)).rows.map((r) => r.id);
  return { db, revs, view, ids };
}

describe('lagging views (--lagging-views MS)', () => {
  let server: EmbeddedCouch;
  beforeAll(async () => {
    server = await startEmbeddedCouch({
      adminPassword: PASSWORD,
      laggingViewsMs: LAG_MS,
      memoryPrefix: 'lagging_',
    });
  });
  afterAll(async () => server?.close());

  it('lists a new doc only MS after its write, and a claimed doc (fresh with include_docs) until then', async () => {
    const { db, revs, ids, view } = await tokenDb(server, 'lag_visibility');
    // Docs written before the first read of a view count as old: there at once.
    expect(await ids('?update=true')).toEqual(['a', 'b']);

    const written = Date.now();
    await request(`${db}/c`, 'PUT', { lock: 0 });
    // a is claimed now: the index still lists it, its document says it is taken.
    await request(`${db}/a`, 'PUT', { _rev: revs.get('a'), lock: 1 });
    const stale = await view('?stable=true&update=false&include_docs=true');
    expect(stale.rows.map((r) => r.id)).toEqual(['a', 'b']);
    expect(stale.rows[0]!.doc?.lock).toBe(1);
    // A read that updates the index after answering, then another look: still the old rows
    // (pouch's own views, or a CouchDB at rest, would show the update by now).
    expect(await ids('?stable=true&update=lazy')).toEqual(['a', 'b']);
    await sleep(LAG_MS / 2);
    expect(await ids('?stale=ok')).toEqual(['a', 'b']);
    // Only Date.now() - written < LAG_MS makes the reads above meaningful: a stalled test machine
    // could have let the lag pass.
    expect(Date.now() - written).toBeLessThan(LAG_MS);

    await sleep(LAG_MS + 150 - (Date.now() - written));
    expect(await ids('?update=false')).toEqual(['b', 'c']);
  });

  it('brings the index up to date for a read that asks for it', async () => {
    const { db, ids } = await tokenDb(server, 'lag_uptodate');
    expect(await ids()).toEqual(['a', 'b']);
    // Written now, asked for by an up-to-date read at once: the index catches up.
    await request(`${db}/c`, 'PUT', { lock: 0 });
    expect(await ids('?stable=true&update=false')).toEqual(['a', 'b']);
    expect(await ids('?update=true')).toEqual(['a', 'b', 'c']);
    // From then on the stale reads see it too.
    expect(await ids('?stable=true&update=false')).toEqual(['a', 'b', 'c']);
  });

  it('answers a read while another still waits for its documents: no queue', async () => {
    const docs = [
      { _id: 'a', lock: 0 },
      { _id: 'b', lock: 0 },
    ];
    const db = fakeSourceDb(docs);
    const query = (opts: Record<string, unknown>) => laggingQuery(db, 't/free', opts, LAG_MS, mapper);
    // Built (an up-to-date read waits for the feed to bring both docs).
    expect(rowIds(await query({}))).toEqual(['a', 'b']);

    db.holdNextDocFetch();
    let firstDone = false;
    const first = query({ include_docs: true, stale: 'ok' }).then((res) => {
      firstDone = true;
      return res;
    });
    const second = await query({ limit: 1, stale: 'ok' });
    expect(rowIds(second)).toEqual(['a']);
    expect(firstDone).toBe(false);
    db.release();
    const answered = (await first) as { rows: Array<{ id: string; doc: unknown }> };
    expect(answered.rows.map((r) => r.doc)).toEqual(docs);
  });

  it('serves key ranges, startkey_docid, descending, skip and limit as CouchDB does', async () => {
    const db = `${server.url}/lag_ranges`;
    await request(db, 'PUT');
    await request(`${db}/_design/t`, 'PUT', {
      views: { byN: { map: 'function (doc) { emit(doc.n, null); }' } },
    });
    await request(`${db}/_bulk_docs`, 'POST', {
      docs: [
        { _id: 'x1', n: 1 },
        { _id: 'x2', n: 2 },
        { _id: 'y2', n: 2 },
        { _id: 'z2', n: 2 },
        { _id: 'x3', n: 3 },
      ],
    });
    const ids = async (query: string) =>
      ((await request(`${db}/_design/t/_view/byN?${query}`)) as { rows: ViewRow[] }).rows.map((r) => r.id);
    expect(await ids('')).toEqual(['x1', 'x2', 'y2', 'z2', 'x3']);
    expect(await ids('startkey=2&startkey_docid=y2&limit=2')).toEqual(['y2', 'z2']);
    expect(await ids('startkey=2&endkey=2&inclusive_end=false')).toEqual([]);
    expect(await ids('key=2&skip=1')).toEqual(['y2', 'z2']);
    expect(await ids('descending=true&startkey=2&endkey=1')).toEqual(['z2', 'y2', 'x2', 'x1']);
    expect(await ids('endkey=2&endkey_docid=x2')).toEqual(['x1', 'x2']);
    expect(await ids('keys=[3,1]')).toEqual(['x3', 'x1']);
    const page = await request(`${db}/_design/t/_view/byN?startkey=3`);
    expect(page).toMatchObject({ total_rows: 5, offset: 4 });
  });
});

describe('CouchDB 3 read options on the ordinary embedded server', () => {
  let server: EmbeddedCouch;
  beforeAll(async () => {
    server = await startEmbeddedCouch({ adminPassword: PASSWORD, memoryPrefix: 'plain_' });
  });
  afterAll(async () => server?.close());

  it('reads update=false as stale=ok and update=lazy as stale=update_after', async () => {
    const { db, ids } = await tokenDb(server, 'couch3_params');
    expect(await ids()).toEqual(['a', 'b']);
    await request(`${db}/c`, 'PUT', { lock: 0 });
    // update=false: the index as it stands, without the new doc (ignored, it would be listed).
    expect(await ids('?stable=true&update=false')).toEqual(['a', 'b']);
    expect(await ids('?stable=true&update=false')).toEqual(['a', 'b']);
    // update=lazy: answered from the index as it stands, which it then updates.
    expect(await ids('?stable=true&update=lazy')).toEqual(['a', 'b']);
    await expect.poll(() => ids('?update=false'), { timeout: 5000 }).toEqual(['a', 'b', 'c']);
    await request(`${db}/d`, 'PUT', { lock: 0 });
    expect(await ids('?update=true')).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('lrt db serve --lagging-views', () => {
  it('starts the lagging mode and refuses it for a cluster', async () => {
    const env = { PATH: process.env.PATH ?? '', HOME: tmpdir(), LRT_DB_ADMIN_PASSWORD: PASSWORD };
    const { child, url } = await serveDb(['--lagging-views', String(LAG_MS)], {
      LRT_DB_ADMIN_PASSWORD: PASSWORD,
    });
    try {
      const base = `http://${new URL(url).host}`;
      const { db, ids } = await tokenDb({ url: base } as EmbeddedCouch, 'cli_lagging');
      expect(await ids()).toEqual(['a', 'b']);
      await request(`${db}/c`, 'PUT', { lock: 0 });
      expect(await ids('?update=false')).toEqual(['a', 'b']);
      await expect.poll(() => ids('?update=false'), { timeout: 5000 }).toEqual(['a', 'b', 'c']);
    } finally {
      child.kill('SIGTERM');
      await child;
    }
    const cluster = await execa('node', [DIST_LRT, 'db', 'serve', '--nodes', '3', '--lagging-views', '100'], {
      env,
      extendEnv: false,
      reject: false,
    });
    expect(cluster.exitCode).not.toBe(0);
    expect(cluster.stderr).toContain('--lagging-views');
  });
});
