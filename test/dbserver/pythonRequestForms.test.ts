import { beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import {
  CloudantDocument,
  CouchdbPythonDatabase,
  PyHttpError,
  type PyServer,
  pySend,
  pyServerOf,
} from '../helpers/pythonClients';

/*
 * Every request form couchdb-python and python-cloudant send, against the suite's server, each
 * answered as Apache CouchDB 3 answers it (docs/couchdb-rules.md, "Request forms of the Python
 * clients"). The same file passes against a real CouchDB (COUCHDB_URL).
 */

let t: TestDatabase;
let server: PyServer;
let couchdb: CouchdbPythonDatabase;

beforeAll(async () => {
  t = await createTestDatabase('lrt_pyforms');
  server = pyServerOf(t);
  couchdb = new CouchdbPythonDatabase(server);
});

async function statusOf(promise: Promise<unknown>): Promise<number | 'ok'> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    if (err instanceof PyHttpError) return err.reply.status;
    throw err;
  }
}

describe('python-cloudant forms', () => {
  it('put_attachment with If-Match and no ?rev= stores the attachment (GRID_LRT srm.txt upload)', async () => {
    await couchdb.save({ _id: 'cl_att', type: 'pref_cal1', lock: 0, done: 0 });
    const doc = new CloudantDocument(server, 'cl_att');
    const reply = await doc.putAttachment('srm.txt', 'text/plain', 'srm://a/L1_SB000.tar\n');
    expect(reply.status).toBe(201);
    expect(doc.doc._rev).toMatch(/^2-/);
    expect(await couchdb.getAttachment('cl_att', 'srm.txt')).toBe('srm://a/L1_SB000.tar\n');
  });

  it('put_attachment with a stale If-Match is a 409 and changes nothing', async () => {
    const first = await couchdb.save({ _id: 'cl_stale', n: 1 });
    await couchdb.save({ _id: 'cl_stale', _rev: first.rev, n: 2 });
    const stale = await pySend(server, 'PUT', '/cl_stale/a.txt', {
      headers: { 'If-Match': first.rev!, 'Content-Type': 'text/plain' },
      body: 'x',
    });
    expect(stale.status).toBe(409);
    expect((await couchdb.get('cl_stale'))?._attachments).toBeUndefined();
  });

  it('If-Match and ?rev= that disagree are a 400', async () => {
    const { rev } = await couchdb.save({ _id: 'cl_both', n: 1 });
    const reply = await pySend(server, 'PUT', '/cl_both/a.txt', {
      query: { rev: rev! },
      headers: { 'If-Match': '1-00000000000000000000000000000000', 'Content-Type': 'text/plain' },
      body: 'x',
    });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ error: 'bad_request' });
  });

  it('get_attachment sends If-Match: the attachment comes back', async () => {
    const doc = new CloudantDocument(server, 'cl_att');
    expect(await doc.getAttachment('srm.txt')).toBe('srm://a/L1_SB000.tar\n');
  });

  it('delete_attachment with If-Match removes it; a second one is a 404 (the attachment is missing)', async () => {
    const doc = new CloudantDocument(server, 'cl_att');
    expect((await doc.deleteAttachment('srm.txt')).status).toBe(200);
    expect((await couchdb.get('cl_att'))?._attachments).toBeUndefined();
    const again = await pySend(server, 'DELETE', '/cl_att/srm.txt', {
      headers: { 'If-Match': doc.doc._rev! },
    });
    expect(again.status).toBe(404);
  });

  it('delete_attachment with a stale If-Match is a 409 and keeps the attachment', async () => {
    await couchdb.save({ _id: 'cl_att2', n: 1 });
    const withAtt = new CloudantDocument(server, 'cl_att2');
    await withAtt.putAttachment('a.txt', 'text/plain', 'keep me');
    const staleRev = withAtt.doc._rev!;
    await couchdb.save({ ...withAtt.doc, n: 2 });
    const reply = await pySend(server, 'DELETE', '/cl_att2/a.txt', { headers: { 'If-Match': staleRev } });
    expect(reply.status).toBe(409);
    expect(await couchdb.getAttachment('cl_att2', 'a.txt')).toBe('keep me');
  });

  it('create (POST /db), exists (HEAD), fetch, save (PUT with _rev in the body), delete (?rev=)', async () => {
    const doc = new CloudantDocument(server, 'cl_doc');
    expect(await doc.exists()).toBe(false);
    doc.doc.value = 1;
    await doc.save();
    expect(doc.doc._rev).toMatch(/^1-/);
    expect(await doc.exists()).toBe(true);
    doc.doc.value = 2;
    await doc.save();
    expect(doc.doc._rev).toMatch(/^2-/);
    await doc.fetch();
    expect(doc.doc.value).toBe(2);
    await doc.delete();
    expect(await doc.exists()).toBe(false);
  });
});

describe('couchdb-python forms', () => {
  it('HEAD of a document carries its revision as ETag; del db[id] deletes with it', async () => {
    const { rev } = await couchdb.save({ _id: 'cp_del', n: 1 });
    const head = await pySend(server, 'HEAD', '/cp_del');
    expect(head.status).toBe(200);
    expect(head.etag).toBe(`"${rev}"`);
    await couchdb.deleteById('cp_del');
    expect(await couchdb.contains('cp_del')).toBe(false);
    expect((await pySend(server, 'HEAD', '/cp_del')).status).toBe(404);
  });

  it('HEAD /db tells whether the database exists', async () => {
    expect(await couchdb.exists()).toBe(true);
    expect(await new CouchdbPythonDatabase({ ...server, db: `${t.name}_none` }).exists()).toBe(false);
  });

  it('save with an id is a PUT with _rev in the body; a stale _rev is a 409', async () => {
    const doc: Record<string, unknown> = { _id: 'cp_save', n: 1 };
    await couchdb.save(doc);
    const stale = { ...doc };
    doc.n = 2;
    await couchdb.save(doc);
    expect(doc._rev).toMatch(/^2-/);
    expect(await statusOf(couchdb.save(stale))).toBe(409);
  });

  it('save without an id is a POST /db that returns the new id', async () => {
    const doc: Record<string, unknown> = { n: 1 };
    const { id, rev } = await couchdb.save(doc);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(rev).toMatch(/^1-/);
    expect((await couchdb.get(id))?.n).toBe(1);
  });

  it("save(doc, batch='ok') is answered 202 {ok, id} with no revision, and is written", async () => {
    const created = await couchdb.save({ _id: 'cp_batch', n: 1 }, { batch: 'ok' });
    expect(created).toEqual({ id: 'cp_batch', rev: undefined, status: 202 });
    const viaPost = await couchdb.save({ _id: 'cp_batch_post', n: 1 }, { batch: 'ok' });
    expect(viaPost.status).toBe(202);
    await expect.poll(async () => (await couchdb.get('cp_batch'))?.n).toBe(1);
    await expect.poll(async () => (await couchdb.get('cp_batch_post'))?.n).toBe(1);
  });

  it('PUT with the revision only in ?rev= or only in If-Match updates; body and ?rev= that disagree are a 400', async () => {
    const { rev } = await couchdb.save({ _id: 'cp_rev', n: 1 });
    const json = { 'content-type': 'application/json' };
    const byQuery = await pySend(server, 'PUT', '/cp_rev', {
      query: { rev: rev! },
      headers: json,
      body: '{"n":2}',
    });
    expect(byQuery.status).toBe(201);
    const rev2 = (byQuery.body as { rev: string }).rev;
    const byHeader = await pySend(server, 'PUT', '/cp_rev', {
      headers: { ...json, 'If-Match': `"${rev2}"` },
      body: '{"n":3}',
    });
    expect(byHeader.status).toBe(201);
    const rev3 = (byHeader.body as { rev: string }).rev;
    const disagree = await pySend(server, 'PUT', '/cp_rev', {
      query: { rev: rev2 },
      headers: json,
      body: JSON.stringify({ _rev: rev3, n: 4 }),
    });
    expect(disagree.status).toBe(400);
    expect((await couchdb.get('cp_rev'))?.n).toBe(3);
  });

  it('DELETE with If-Match deletes that revision; a stale one or none at all is a 409; a missing doc a 404', async () => {
    const first = await couchdb.save({ _id: 'cp_delete', n: 1 });
    const second = await couchdb.save({ _id: 'cp_delete', _rev: first.rev, n: 2 });
    expect(
      (await pySend(server, 'DELETE', '/cp_delete', { headers: { 'If-Match': first.rev! } })).status,
    ).toBe(409);
    expect((await pySend(server, 'DELETE', '/cp_delete')).status).toBe(409);
    expect(
      (await pySend(server, 'DELETE', '/cp_delete', { query: { rev: '1-00000000000000000000000000000000' } }))
        .status,
    ).toBe(409);
    expect((await couchdb.get('cp_delete'))?.n).toBe(2);
    expect(
      (await pySend(server, 'DELETE', '/cp_delete', { headers: { 'If-Match': second.rev! } })).status,
    ).toBe(200);
    expect(await couchdb.get('cp_delete')).toBeUndefined();
    expect((await pySend(server, 'DELETE', '/cp_never', { query: { rev: first.rev! } })).status).toBe(404);
  });

  it('put_attachment, get_attachment and delete_attachment with ?rev=', async () => {
    const doc: Record<string, unknown> = { _id: 'cp_att', n: 1 };
    await couchdb.save(doc);
    await couchdb.putAttachment(doc, 'line 1\n', 'srm.txt', 'text/plain');
    expect(doc._rev).toMatch(/^2-/);
    expect(await couchdb.getAttachment('cp_att', 'srm.txt')).toBe('line 1\n');
    await couchdb.deleteAttachment(doc, 'srm.txt');
    expect(await couchdb.getAttachment('cp_att', 'srm.txt')).toBeUndefined();
  });

  it('an attachment PUT without any revision on an existing document is a 409', async () => {
    await couchdb.save({ _id: 'cp_att_norev', n: 1 });
    const reply = await pySend(server, 'PUT', '/cp_att_norev/a.txt', {
      headers: { 'content-type': 'text/plain' },
      body: 'x',
    });
    expect(reply.status).toBe(409);
  });

  it('update(docs, new_edits=False) and PUT ?new_edits=false keep the given revision', async () => {
    const rows = await couchdb.update([{ _id: 'cp_repl', _rev: '3-abc', n: 1 }], { new_edits: false });
    expect(rows).toEqual([]);
    expect((await couchdb.get('cp_repl'))?._rev).toBe('3-abc');
    const put = await pySend(server, 'PUT', '/cp_repl2', {
      query: { new_edits: 'false' },
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ _rev: '2-def', n: 1 }),
    });
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({ ok: true, id: 'cp_repl2', rev: '2-def' });
    expect((await couchdb.get('cp_repl2'))?._rev).toBe('2-def');
  });

  it('copy returns the new revision of the copy', async () => {
    await couchdb.save({ _id: 'cp_src', n: 7 });
    const rev = await couchdb.copy('cp_src', 'cp_dest');
    expect(rev).toMatch(/^1-/);
    expect(await couchdb.get('cp_dest')).toMatchObject({ n: 7, _rev: rev });
  });

  it('view options go JSON-encoded in the query (limit as text, keys as JSON); keys= is a POST', async () => {
    await couchdb.save({
      _id: '_design/pyforms',
      language: 'javascript',
      views: { byN: { map: 'function (doc) { if (doc.n) emit(doc.n, doc._id); }' } },
    });
    const page = await couchdb.view('pyforms/byN', { startkey: 7, endkey: 7, limit: 100 });
    expect(page.rows.map((r) => r.id).sort()).toEqual(['cp_dest', 'cp_src']);
    const byKeys = await couchdb.view('pyforms/byN', { keys: [7], include_docs: true });
    expect(byKeys.rows.map((r) => r.doc?.n)).toEqual([7, 7]);
  });
});
