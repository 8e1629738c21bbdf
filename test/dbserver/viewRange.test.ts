import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedCouch, startEmbeddedCouch } from '../../src/dbserver';
import { adminAuthHeader, createTestDatabase, type TestDatabase, writeQuorumQuery } from '../helpers/couch';

/*
 * `startkey_docid` / `endkey_docid` (and start_key_doc_id / end_key_doc_id), `inclusive_end` and
 * `descending` on a view whose keys repeat, over HTTP: every answer is compared with the rows
 * CouchDB 3 selects (couch_mrview's key_opts), computed here from the whole view. On the suite's
 * server (the embedded server, or the cluster stand-in with LRT_TEST_CLUSTER, or COUCHDB_URL) and
 * on an embedded server with lagging views (laggingViews.ts), whose index is read apart.
 */

const collate = (
  createRequire(import.meta.url)('pouchdb-collate') as { collate(a: unknown, b: unknown): number }
).collate;

interface Row {
  id: string;
  key: unknown;
  value: unknown;
  doc?: { _id: string } | null;
}

interface Server {
  /** Base URL of the database, without credentials. */
  db: string;
  authorization: string;
}

async function call(server: Server, path: string, init: { method?: string; body?: unknown } = {}) {
  const res = await fetch(`${server.db}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: server.authorization, 'content-type': 'application/json' },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as Record<string, unknown> };
}

/** The documents: key `b` repeats 40 times (ids that JSON would misread among them), a and c less. */
function documents() {
  const docs: Array<{ _id: string; k: string }> = [];
  for (let i = 0; i < 6; i++) docs.push({ _id: `a${String(i).padStart(3, '0')}`, k: 'a' });
  for (let i = 0; i < 37; i++) docs.push({ _id: `b${String(i).padStart(3, '0')}`, k: 'b' });
  docs.push({ _id: '123', k: 'b' }, { _id: '1e3', k: 'b' }, { _id: 'true', k: 'b' });
  for (let i = 0; i < 5; i++) docs.push({ _id: `c${String(i).padStart(3, '0')}`, k: 'c' });
  return docs;
}

type Query = Record<string, string | number | boolean | unknown[]>;

/** CouchDB's comparison of a row with (key, id): by key, then (when an id is given) by id. */
function against(row: Row, key: unknown, id: string | undefined): number {
  const byKey = collate(row.key, key);
  if (byKey !== 0 || id === undefined) return byKey;
  return row.id < id ? -1 : row.id > id ? 1 : 0;
}

/** The rows CouchDB 3 answers `q` with, from the whole view `all` (ascending). */
function couchSelection(all: Row[], q: Query): Row[] {
  const descending = q.descending === true;
  const inclusiveEnd = q.inclusive_end !== false;
  const startId = (q.startkey_docid ?? q.start_key_doc_id) as string | undefined;
  const endId = (q.endkey_docid ?? q.end_key_doc_id) as string | undefined;
  const inRange = (start: unknown, end: unknown) => (row: Row) => {
    if (start !== undefined) {
      const c = against(row, start, startId);
      if (descending ? c > 0 : c < 0) return false;
    }
    if (end === undefined) return true;
    const c = against(row, end, endId);
    return descending ? (inclusiveEnd ? c >= 0 : c > 0) : inclusiveEnd ? c <= 0 : c < 0;
  };
  const ordered = descending ? [...all].reverse() : all;
  // `key` is startkey = endkey; each key of `keys` is such a range of its own.
  const ranges = Array.isArray(q.keys)
    ? q.keys.map((k) => ordered.filter(inRange(k, k)))
    : q.key !== undefined
      ? [ordered.filter(inRange(q.key, q.key))]
      : [ordered.filter(inRange(q.startkey ?? q.start_key, q.endkey ?? q.end_key))];
  const skip = Number(q.skip ?? 0);
  return ranges.flat().slice(skip, q.limit === undefined ? undefined : skip + Number(q.limit));
}

function queryString(q: Query): string {
  const json = new Set(['key', 'keys', 'startkey', 'start_key', 'endkey', 'end_key']);
  return new URLSearchParams(
    Object.entries(q).map(([name, value]): [string, string] => [
      name,
      json.has(name) ? JSON.stringify(value) : String(value),
    ]),
  ).toString();
}

/** Queries inside and across the repeated key, from several doc ids, both ways. */
function queries(bIds: string[]): Query[] {
  const out: Query[] = [];
  for (const id of [bIds[0]!, bIds[7]!, '123', '1e3', 'true', bIds.at(-1)!, 'b0175', 'zzz']) {
    out.push({ startkey: 'b', startkey_docid: id, limit: 7 });
    out.push({ startkey: 'b', startkey_docid: id, limit: 7, descending: true });
    out.push({ startkey: 'b', start_key_doc_id: id, endkey: 'b', limit: 50 });
    out.push({ startkey: 'a', endkey: 'b', endkey_docid: id });
    out.push({ startkey: 'a', endkey: 'b', end_key_doc_id: id, inclusive_end: false });
    out.push({ startkey: 'c', endkey: 'b', endkey_docid: id, descending: true });
    out.push({ startkey: 'c', endkey: 'b', endkey_docid: id, descending: true, inclusive_end: false });
    out.push({ key: 'b', startkey_docid: id, limit: 5 });
    out.push({ key: 'b', endkey_docid: id, descending: true, skip: 2, limit: 4 });
  }
  out.push({ startkey: 'b', startkey_docid: bIds[3]!, endkey: 'b', endkey_docid: bIds[9]!, skip: 2 });
  out.push({ startkey: 'b', startkey_docid: bIds[9]!, endkey: 'b', endkey_docid: bIds[3]! });
  out.push({ start_key: 'a', startkey_docid: 'a003', end_key: 'c', endkey_docid: 'c001', limit: 100 });
  out.push({ key: 'b', inclusive_end: false });
  out.push({ startkey: 'b', endkey: 'b', inclusive_end: false });
  out.push({ endkey_docid: bIds[4]!, limit: 3 }); // a doc id without its key: ignored
  out.push({ keys: ['c', 'a', 'b'], startkey_docid: bIds[30]!, limit: 9 });
  out.push({ keys: ['c', 'a'], descending: true });
  return out;
}

function suite(name: string, open: () => Promise<{ server: Server; close(): Promise<void> }>) {
  describe(name, () => {
    let server: Server;
    let close: () => Promise<void>;
    let all: Row[];
    let bIds: string[];

    beforeAll(async () => {
      ({ server, close } = await open());
      const docs = documents();
      expect(
        (await call(server, `/_bulk_docs${writeQuorumQuery()}`, { method: 'POST', body: { docs } })).status,
      ).toBe(201);
      const views = { byK: { map: 'function (doc) { emit(doc.k, doc._id.length); }' } };
      expect([201, 202]).toContain(
        (await call(server, '/_design/r', { method: 'PUT', body: { views } })).status,
      );
      all = (await call(server, '/_design/r/_view/byK')).body.rows as Row[];
      expect(all).toHaveLength(docs.length);
      bIds = all.filter((r) => r.key === 'b').map((r) => r.id);
    });
    afterAll(async () => close?.());

    it('answers pages inside and across a repeated key with the rows CouchDB selects', async () => {
      for (const q of queries(bIds)) {
        const answer = await call(server, `/_design/r/_view/byK?${queryString(q)}`);
        expect(answer.status, JSON.stringify(q)).toBe(200);
        const rows = (answer.body.rows as Row[]).map((r) => [r.key, r.id]);
        expect(rows, JSON.stringify(q)).toEqual(couchSelection(all, q).map((r) => [r.key, r.id]));
      }
    });

    it('keeps the documents, the values and the field order of the rows', async () => {
      const q = { startkey: 'b', startkey_docid: bIds[11]!, limit: 3, include_docs: true };
      const answer = await call(server, `/_design/r/_view/byK?${queryString(q)}`);
      const rows = answer.body.rows as Row[];
      const expected = couchSelection(all, q);
      expect(rows.map((r) => r.value)).toEqual(expected.map((r) => r.value));
      expect(rows.map((r) => r.doc?._id)).toEqual(expected.map((r) => r.id));
      for (const row of rows) expect(Object.keys(row)).toEqual(['id', 'key', 'value', 'doc']);
      expect(answer.body.total_rows).toBe(all.length);
    });

    it('walks 2,000 rows of one key by (key, doc id) in the requests a CouchDB walk takes', async () => {
      const docs = Array.from({ length: 2000 }, (_, i) => ({
        _id: `w${String(i).padStart(5, '0')}`,
        k: 'w',
      }));
      await call(server, `/_bulk_docs${writeQuorumQuery()}`, { method: 'POST', body: { docs } });
      const pageSize = 100;
      const seen: string[] = [];
      let start: Row | undefined;
      let requests = 0;
      // Each page after the first starts at the last row read: one row more than a page.
      while (requests < 60) {
        const q: Query = start
          ? { startkey: 'w', startkey_docid: start.id, endkey: 'w', limit: pageSize + 1 }
          : { key: 'w', limit: pageSize };
        requests++;
        const rows = (await call(server, `/_design/r/_view/byK?${queryString(q)}`)).body.rows as Row[];
        const fresh = start && rows[0]?.id === start.id ? rows.slice(1) : rows;
        seen.push(...fresh.map((r) => r.id));
        if (rows.length < Number(q.limit)) break;
        start = rows.at(-1);
      }
      expect(seen).toEqual(docs.map((d) => d._id));
      // 20 full pages, then the answer that holds only the start row.
      expect(requests).toBe(2000 / pageSize + 1);
    });

    it('reads a stale index with doc ids: update=false misses a new row, update=lazy brings it', async () => {
      await call(server, `/zz500${writeQuorumQuery()}`, { method: 'PUT', body: { k: 'b' } });
      const q = { startkey: 'b', startkey_docid: bIds.at(-1)!, endkey: 'b' };
      const stale = await call(server, `/_design/r/_view/byK?${queryString({ ...q, update: false })}`);
      const ids = (stale.body.rows as Row[]).map((r) => r.id);
      expect(ids).toContain(bIds.at(-1));
      if (!ids.includes('zz500')) {
        // Not indexed yet: a lazy read answers at once and has the index updated after.
        await call(server, `/_design/r/_view/byK?${queryString({ ...q, update: 'lazy' })}`);
        await expect
          .poll(
            async () =>
              (
                (await call(server, `/_design/r/_view/byK?${queryString({ ...q, update: false })}`)).body
                  .rows as Row[]
              ).map((r) => r.id),
            { timeout: 10_000 },
          )
          .toContain('zz500');
      }
      const fresh = await call(server, `/_design/r/_view/byK?${queryString(q)}`);
      expect((fresh.body.rows as Row[]).map((r) => r.id)).toContain('zz500');
    });
  });
}

suite('the suite server', async () => {
  const t: TestDatabase = await createTestDatabase('lrt_range');
  return {
    server: { db: `${t.baseUrl}/${t.name}`, authorization: adminAuthHeader() },
    close: () => t.drop(),
  };
});

suite('an embedded server with lagging views', async () => {
  const couch: EmbeddedCouch = await startEmbeddedCouch({ laggingViewsMs: 0 });
  const authorization = `Basic ${Buffer.from(`admin:${couch.adminPassword}`).toString('base64')}`;
  const db = `${couch.url}/lagging_range`;
  await fetch(db, { method: 'PUT', headers: { authorization } });
  return { server: { db, authorization }, close: () => couch.close() };
});
