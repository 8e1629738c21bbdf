import { describe, expect, it } from 'vitest';
import { adminAuthHeader, createTestDatabase, type TestDatabase } from '../helpers/couch';

/*
 * The embedded server answers a reduce read of a whole view from chunked reductions kept current
 * from the index's changes (src/dbserver/reduceIndex.ts); a read with a key range goes through
 * pouch's code, which reduces every row it reads. Both must say what the documents say, after
 * every kind of write: chunks that grow past their size (split), empty out (removed), rows that
 * move between keys, deletions, a database dropped and made again under the same name.
 * The same test runs on Apache CouchDB (COUCHDB_URL) and on the cluster stand-in.
 */

const STATES = ['todo', 'locked', 'running', 'done', 'error'];
/** More than a few chunks of 128 rows. */
const DOCS = 700;

interface Doc {
  _id: string;
  _rev?: string;
  state: string;
  n: number;
}

const DESIGN = {
  _id: '_design/r',
  language: 'javascript',
  views: {
    count: { map: 'function (doc) { if (doc.state) emit(doc.state, null); }', reduce: '_count' },
    sum: { map: 'function (doc) { if (doc.state) emit(doc.state, doc.n); }', reduce: '_sum' },
    stats: { map: 'function (doc) { if (doc.state) emit(doc.state, doc.n); }', reduce: '_stats' },
    pairs: { map: 'function (doc) { if (doc.state) emit([doc.state, doc.n % 3], doc.n); }', reduce: '_sum' },
  },
};

async function call<T = unknown>(db: TestDatabase, path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${db.baseUrl}/${db.name}${path}`, {
    ...init,
    headers: { authorization: adminAuthHeader(), 'content-type': 'application/json' },
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body as T;
}

async function write(db: TestDatabase, docs: Array<Partial<Doc> & { _deleted?: boolean }>): Promise<void> {
  const rows = (await call(db, '/_bulk_docs', { method: 'POST', body: JSON.stringify({ docs }) })) as Array<{
    id: string;
    rev?: string;
    error?: string;
  }>;
  expect(rows.filter((r) => r.error)).toEqual([]);
}

async function allDocs(db: TestDatabase): Promise<Doc[]> {
  const answer = await call<{ rows: Array<{ doc: Doc }> }>(db, '/_all_docs?include_docs=true');
  return answer.rows.map((r) => r.doc).filter((d) => !d._id.startsWith('_design/'));
}

/** What the views must say, computed here from the documents. */
function expected(docs: Doc[]) {
  const byState = new Map<string, number[]>();
  for (const d of docs) byState.set(d.state, [...(byState.get(d.state) ?? []), d.n]);
  const states = [...byState.keys()].sort();
  const sum = (ns: number[]) => ns.reduce((t, n) => t + n, 0);
  return {
    count: states.map((key) => ({ key, value: byState.get(key)!.length })),
    sum: states.map((key) => ({ key, value: sum(byState.get(key)!) })),
    stats: states.map((key) => {
      const ns = byState.get(key)!;
      return {
        key,
        value: {
          sum: sum(ns),
          min: Math.min(...ns),
          max: Math.max(...ns),
          count: ns.length,
          sumsqr: sum(ns.map((n) => n * n)),
        },
      };
    }),
    total: sum(docs.map((d) => d.n)),
  };
}

async function view(db: TestDatabase, name: string, query: string): Promise<unknown[]> {
  return (await call<{ rows: unknown[] }>(db, `/_design/r/_view/${name}?${query}`)).rows;
}

/** Every read, whole view and the same as a key range (pouch's full read), against the documents. */
async function checkViews(db: TestDatabase): Promise<void> {
  const docs = await allDocs(db);
  const want = expected(docs);
  for (const range of ['', '&startkey=null']) {
    expect(await view(db, 'count', `group=true${range}`)).toEqual(want.count);
    expect(await view(db, 'sum', `group=true${range}`)).toEqual(want.sum);
    expect(await view(db, 'stats', `group=true${range}`)).toEqual(want.stats);
    expect(await view(db, 'sum', `reduce=true${range}`)).toEqual(
      docs.length ? [{ key: null, value: want.total }] : [],
    );
    expect(await view(db, 'count', `group=true&skip=1&limit=2${range}`)).toEqual(want.count.slice(1, 3));
    const pairsByState = await view(db, 'pairs', `group_level=1${range}`);
    expect(pairsByState).toEqual(want.sum.map((r) => ({ key: [r.key], value: r.value })));
    const pairs = (await view(db, 'pairs', `group=true${range}`)) as Array<{ key: [string, number] }>;
    expect(pairs.length).toBe(new Set(docs.map((d) => `${d.state}/${d.n % 3}`)).size);
  }
  for (const range of ['', '&endkey=null']) {
    expect(await view(db, 'count', `group=true&descending=true${range}`)).toEqual([...want.count].reverse());
  }
}

describe('reduce reads of a whole view (chunked reductions on the embedded server)', () => {
  it('say what the documents say after updates, moves, deletions and new documents', async () => {
    const db = await createTestDatabase('lrt_reduce');
    try {
      await call(db, '/_design/r', { method: 'PUT', body: JSON.stringify(DESIGN) });
      const docs: Doc[] = Array.from({ length: DOCS }, (_, i) => ({
        _id: `d${String(i).padStart(4, '0')}`,
        state: STATES[i % 3]!,
        n: (i * 7) % 11,
      }));
      await write(db, docs);
      await checkViews(db);

      // Most documents move to `done`: its range grows far past a chunk, `todo`'s empties.
      let stored = await allDocs(db);
      await write(
        db,
        stored.filter((_, i) => i % 5 !== 0).map((d) => ({ ...d, state: 'done', n: d.n + 1 })),
      );
      await checkViews(db);

      // Deletions, a few new documents, a few moving back.
      stored = await allDocs(db);
      await write(db, [
        ...stored.slice(0, 60).map((d) => ({ _id: d._id, _rev: d._rev, _deleted: true })),
        ...stored.slice(100, 130).map((d) => ({ ...d, state: 'error', n: 3 })),
        ...Array.from({ length: 90 }, (_, i) => ({ _id: `e${i}`, state: 'running', n: i % 4 })),
      ]);
      await checkViews(db);

      // Every document deleted: the reductions are empty.
      stored = await allDocs(db);
      await write(
        db,
        stored.map((d) => ({ _id: d._id, _rev: d._rev, _deleted: true })),
      );
      await checkViews(db);
      expect(await view(db, 'count', 'group=true')).toEqual([]);
    } finally {
      await db.drop();
    }
  });

  it('starts over for a database dropped and made again under the same name', async () => {
    const db = await createTestDatabase('lrt_reduce');
    try {
      await call(db, '/_design/r', { method: 'PUT', body: JSON.stringify(DESIGN) });
      await write(
        db,
        Array.from({ length: 300 }, (_, i) => ({ _id: `a${i}`, state: 'todo', n: 1 })),
      );
      expect(await view(db, 'count', 'group=true')).toEqual([{ key: 'todo', value: 300 }]);
      await fetch(`${db.baseUrl}/${db.name}`, {
        method: 'DELETE',
        headers: { authorization: adminAuthHeader() },
      });
      await fetch(`${db.baseUrl}/${db.name}`, {
        method: 'PUT',
        headers: { authorization: adminAuthHeader() },
      });
      await call(db, '/_design/r', { method: 'PUT', body: JSON.stringify(DESIGN) });
      await write(
        db,
        Array.from({ length: 5 }, (_, i) => ({ _id: `b${i}`, state: 'done', n: 2 })),
      );
      expect(await view(db, 'count', 'group=true')).toEqual([{ key: 'done', value: 5 }]);
      await checkViews(db);
    } finally {
      await db.drop();
    }
  });
});
