import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedCouch, startEmbeddedCouch } from '../../src/dbserver';
import { compileViewFunction, mapper, reducer } from '../../src/dbserver/viewEngine';

describe('the view engine of the embedded server', () => {
  it('compiles a function once per source and keeps documents apart', () => {
    const source = 'function (doc) { doc.seen = true; emit(doc._id, doc.n); }';
    expect(compileViewFunction(source)).toBe(compileViewFunction(source));
    const emitted: unknown[][] = [];
    const map = mapper(source, (key, value) => emitted.push([key, value]));
    const doc = { _id: 'a', n: 1 };
    map(doc);
    map({ _id: 'b', n: [2, 3] });
    expect(emitted).toEqual([
      ['a', 1],
      ['b', [2, 3]],
    ]);
    // The map function got a copy: a mutation does not reach the stored document.
    expect(doc).toEqual({ _id: 'a', n: 1 });
  });

  it('gives view functions CouchDB globals and the built-in reducers', () => {
    const emitted: unknown[][] = [];
    const map = mapper(
      'function (doc) { log("x"); if (isArray(doc.v)) emit(sum(doc.v), toJSON("[1]")); }',
      (k, v) => emitted.push([k, v]),
    );
    map({ _id: 'a', v: [1, 2, 3] });
    map({ _id: 'b', v: 'no' });
    expect(emitted).toEqual([[6, [1]]]);
    expect(reducer('_sum')(null, [1, 2, 3])).toBe(6);
    expect(reducer('_count')(null, ['a', 'b'])).toBe(2);
    expect(reducer('_stats')(null, [2, 4])).toEqual({ sum: 6, min: 2, max: 4, count: 2, sumsqr: 20 });
    expect(reducer('function (keys, values) { return values.length * 10; }')(null, [1, 2])).toBe(20);
    expect(() => reducer('_sum')(null, ['x'])).toThrow(
      /builtin _sum function requires map values to be numbers/,
    );
    expect(() => reducer('_median')).toThrow(/_median is not a supported reduce function/);
  });

  describe('over HTTP', () => {
    let server: EmbeddedCouch;
    const headers = () => ({
      authorization: `Basic ${Buffer.from(`admin:${server.adminPassword}`).toString('base64')}`,
      'content-type': 'application/json',
    });
    const request = async (path: string, init: RequestInit = {}) => {
      const res = await fetch(`${server.url}/views${path}`, { ...init, headers: headers() });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    beforeAll(async () => {
      server = await startEmbeddedCouch();
      await request('', { method: 'PUT' });
    });
    afterAll(async () => server?.close());

    it('indexes, updates, reduces and skips a document whose map throws, as CouchDB does', async () => {
      const docs = [
        { _id: 't1', state: 'todo', n: 1 },
        { _id: 't2', state: 'done', n: 2 },
        { _id: 't3', state: 'todo', n: 4 },
        { _id: 'bad', state: 'todo', n: null },
      ];
      await request('/_bulk_docs', { method: 'POST', body: JSON.stringify({ docs }) });
      const ddoc = {
        views: {
          todo: { map: 'function (doc) { if (doc.state == "todo") emit(doc._id, doc.n.toFixed(0)); }' },
          total: { map: 'function (doc) { emit(doc.state, doc.n || 0); }', reduce: '_sum' },
        },
      };
      expect((await request('/_design/d', { method: 'PUT', body: JSON.stringify(ddoc) })).status).toBe(201);
      const todo = await request('/_design/d/_view/todo');
      // `bad` throws in the map function (null.toFixed): left out, the rest indexed.
      expect((todo.body.rows as Array<{ id: string }>).map((r) => r.id)).toEqual(['t1', 't3']);
      const t1 = await request('/t1');
      await request('/t1', { method: 'PUT', body: JSON.stringify({ ...t1.body, state: 'done' }) });
      const after = await request('/_design/d/_view/todo');
      expect((after.body.rows as Array<{ id: string }>).map((r) => r.id)).toEqual(['t3']);
      const total = await request('/_design/d/_view/total?group=true');
      expect(total.body.rows).toEqual([
        { key: 'done', value: 3 },
        { key: 'todo', value: 4 },
      ]);
      // One key of the grouped reduce (the count of one state), kept current as the whole.
      const one = async (query: string) => (await request(`/_design/d/_view/total?${query}`)).body.rows;
      expect(await one('key="todo"&group=true')).toEqual([{ key: 'todo', value: 4 }]);
      expect(await one('key="gone"&group=true')).toEqual([]);
      expect(await one('key="done"&group=true&skip=1')).toEqual([]);
      await request('/t9', { method: 'PUT', body: JSON.stringify({ state: 'todo', n: 10 }) });
      expect(await one('key="todo"&group=true')).toEqual([{ key: 'todo', value: 14 }]);
      expect((await request('/_design/d/_view/total?key="done"&group=true&limit=-1')).status).toBe(400);
    });

    it("answers row fields in CouchDB's order, key before value, for map and reduced rows", async () => {
      const text = async (path: string) =>
        (await fetch(`${server.url}/views${path}`, { headers: headers() })).text();
      const reduced = await text('/_design/d/_view/total?group=true');
      expect(reduced).toContain('{"key":"done","value":3}');
      const rows = await text('/_design/d/_view/total?reduce=false&include_docs=true&limit=1');
      expect(rows).toMatch(/\{"id":"[^"]+","key":"[^"]+","value":\d+,"doc":\{/);
    });
  });
});
