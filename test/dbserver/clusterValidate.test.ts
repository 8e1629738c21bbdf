import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CouchCluster, startCouchCluster } from '../../src/dbserver';
import { type Answer, type Client, clientFor, eventually } from './clusterClient';

/*
 * Writes a validate_doc_update refuses on every replica, then DELETE /db while the replicas are
 * still replicating the writes they took. The DELETE used to wait forever for a replication whose
 * copies it had already destroyed (src/dbserver/cluster/replication.ts, remove()).
 */

const GUARD = {
  _id: '_design/guard',
  validate_doc_update: 'function (n, o) { if (o && o.frozen) throw({forbidden: "frozen"}); }',
};

/** Rejects when `promise` takes longer than `ms`: a hang fails the test, not the whole run. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('CouchDB cluster stand-in, writes refused by validate_doc_update', () => {
  let cluster: CouchCluster;
  let fronts: Client[];
  let nodes: Client[];
  let closed = false;
  beforeAll(async () => {
    cluster = await startCouchCluster({ nodes: 3 });
    fronts = cluster.urls.map(clientFor);
    nodes = cluster.nodeUrls.map(clientFor);
  });
  afterAll(async () => {
    if (!closed) await cluster?.close();
  });

  /** A database with the guard, a frozen and a free document (revision 1 on every replica). */
  async function guardedDatabase(db: string): Promise<{ frozen: Answer; free: Answer }> {
    expect((await fronts[0]!('PUT', `/${db}`)).status).toBe(201);
    expect((await fronts[0]!('PUT', `/${db}/_design/guard?w=3`, GUARD)).body.ok).toBe(true);
    const created = await fronts[0]!('POST', `/${db}/_bulk_docs?w=3`, {
      docs: [
        { _id: 'frozen', frozen: true },
        { _id: 'free', frozen: false },
      ],
    });
    expect(created.body.every((row: { ok?: boolean }) => row.ok)).toBe(true);
    return {
      frozen: await fronts[0]!('GET', `/${db}/frozen`),
      free: await fronts[0]!('GET', `/${db}/free`),
    };
  }

  it('answers 403 forbidden through the front to a write every replica refuses; a _bulk_docs row carries the error', async () => {
    const { frozen, free } = await guardedDatabase('refused_writes');

    const put = await fronts[1]!('PUT', '/refused_writes/frozen', { ...frozen.body, v: 1 });
    expect(put).toEqual({ status: 403, body: { error: 'forbidden', reason: 'frozen' } });

    const bulk = await fronts[2]!('POST', '/refused_writes/_bulk_docs', {
      docs: [
        { ...frozen.body, v: 1 },
        { ...free.body, v: 1 },
      ],
    });
    // As CouchDB (fabric_doc_update): the same error from every replica leaves the request 201.
    expect(bulk.status).toBe(201);
    expect(bulk.body[0]).toEqual({ id: 'frozen', error: 'forbidden', reason: 'frozen' });
    expect(bulk.body[1]).toMatchObject({ id: 'free', ok: true, rev: expect.stringMatching(/^2-/) });

    // No replica took the refused writes, and replication does not bring them from anywhere.
    for (const node of nodes) {
      const copy = await node('GET', '/refused_writes/frozen');
      expect(copy.body).toMatchObject({ _rev: frozen.body._rev });
      expect(copy.body.v).toBeUndefined();
    }
    expect((await within(5000, 'DELETE /db', fronts[0]!('DELETE', '/refused_writes'))).status).toBe(200);
  });

  it('answers DELETE /db promptly right after writes some replicas refused, while replication is busy', async () => {
    for (let round = 0; round < 15; round++) {
      const db = `refused_then_deleted_${round}`;
      const { frozen, free } = await guardedDatabase(db);
      const bulk = await fronts[round % 3]!('POST', `/${db}/_bulk_docs`, {
        docs: [
          { ...frozen.body, v: round },
          { ...free.body, v: round },
        ],
      });
      expect(bulk.body.map((row: { error?: string }) => row.error)).toEqual(['forbidden', undefined]);
      // At once: the replicas are still replicating the write they took.
      const deleted = await within(5000, `DELETE /${db}`, fronts[(round + 1) % 3]!('DELETE', `/${db}`));
      expect(deleted.status).toBe(200);
      for (const node of nodes) expect((await node('GET', `/${db}`)).status).toBe(404);
    }
  });

  it('replicates a database created again under a deleted name; a refused DELETE leaves replication running', async () => {
    await guardedDatabase('made_again');
    expect((await within(5000, 'DELETE /db', fronts[0]!('DELETE', '/made_again'))).status).toBe(200);
    expect((await fronts[1]!('PUT', '/made_again')).status).toBe(201);
    expect((await nodes[0]!('PUT', '/made_again/on_node1', { v: 1 })).status).toBe(201);
    await eventually(
      async () => (await nodes[2]!('GET', '/made_again/on_node1')).status === 200 || undefined,
    );

    const anonymous = await fetch(`${cluster.urlsWithoutCredentials[0]}/made_again`, { method: 'DELETE' });
    expect(anonymous.status).toBe(401);
    expect((await nodes[2]!('PUT', '/made_again/on_node3', { v: 1 })).status).toBe(201);
    await eventually(
      async () => (await nodes[0]!('GET', '/made_again/on_node3')).status === 200 || undefined,
    );
    expect((await within(5000, 'DELETE /db', fronts[2]!('DELETE', '/made_again'))).status).toBe(200);
  });

  it('closes promptly, also with a replicated database deleted behind the front on one node', async () => {
    await guardedDatabase('deleted_on_a_node');
    const write = await fronts[0]!('POST', '/deleted_on_a_node/_bulk_docs', {
      docs: [{ _id: 'busy', v: 1 }],
    });
    expect(write.body[0].ok).toBe(true);
    // Straight to node 1: the coordinator and its replication do not know.
    expect((await nodes[0]!('DELETE', '/deleted_on_a_node')).status).toBe(200);
    closed = true;
    await within(10_000, 'close()', cluster.close());
  });
});
