import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CouchCluster, startCouchCluster } from '../../src/dbserver';
import { type Client, clientFor, eventually } from './clusterClient';

describe('CouchDB cluster stand-in, 3 nodes', () => {
  let cluster: CouchCluster;
  /** The coordinators, one per node. */
  let fronts: Client[];
  /** The nodes' own servers: one replica each, no coordination. */
  let nodes: Client[];
  beforeAll(async () => {
    cluster = await startCouchCluster({ nodes: 3, adminPassword: 'cluster-pw' });
    fronts = cluster.urls.map(clientFor);
    nodes = cluster.nodeUrls.map(clientFor);
  });
  afterEach(() => cluster.resumeReplication());
  afterAll(async () => cluster?.close());

  /**
   * A document on every replica at revision 1: w=3 waits for all three. 202 too, when replication
   * brought the revision to a replica before its own copy came (it then refuses that copy as a
   * conflict, as CouchDB's replicas do when internal replication is faster).
   */
  async function createEverywhere(db: string, id: string, body: unknown = { v: 0 }): Promise<string> {
    const created = await fronts[0]!('PUT', `/${db}/${id}?w=3`, body);
    expect(created.body.ok).toBe(true);
    return created.body.rev;
  }

  it('gives the same write the same revision on every node (PouchDB 7 deterministic revs): doc, attachment, delete', async () => {
    // Made on each node directly, so not replicated: every node takes every write itself.
    for (const node of nodes) expect((await node('PUT', '/same_revs')).status).toBe(201);
    const revsOf = async (answers: Promise<{ status: number; body: { rev: string } }>[]) => {
      const settled = await Promise.all(answers);
      expect(settled.every((answer) => answer.status === 201 || answer.status === 200)).toBe(true);
      const revs = settled.map((answer) => answer.body.rev);
      expect(new Set(revs).size).toBe(1);
      return revs[0]!;
    };

    const created = await revsOf(nodes.map((node) => node('PUT', '/same_revs/token', { status: 'todo' })));
    const attached = await revsOf(
      nodes.map((node) =>
        node(
          'PUT',
          `/same_revs/token/logs/attempt-1.log?rev=${created}`,
          'hello from a pilot\n',
          'text/plain',
        ),
      ),
    );
    const deleted = await revsOf(nodes.map((node) => node('DELETE', `/same_revs/token?rev=${attached}`)));
    expect([created, attached, deleted].map((rev) => rev.split('-')[0])).toEqual(['1', '2', '3']);
    for (const node of nodes) await node('DELETE', '/same_revs');
  });

  it('creates and deletes a database on every node; GET /db reports cluster n=3 as CouchDB does', async () => {
    expect((await fronts[1]!('PUT', '/made_everywhere')).status).toBe(201);
    for (const node of nodes) expect((await node('GET', '/made_everywhere')).status).toBe(200);
    expect((await fronts[0]!('PUT', '/made_everywhere')).status).toBe(412);

    const info = await fronts[2]!('GET', '/made_everywhere');
    expect(info.body).toMatchObject({ db_name: 'made_everywhere', cluster: { q: 1, n: 3, w: 2, r: 2 } });
    const membership = await fronts[0]!('GET', '/_membership');
    expect(membership.body.cluster_nodes).toHaveLength(3);

    expect((await fronts[0]!('DELETE', '/made_everywhere')).status).toBe(200);
    for (const node of nodes) expect((await node('GET', '/made_everywhere')).status).toBe(404);
  });

  it('refuses an anonymous PUT /db with 401, as the embedded server does, and creates it nowhere', async () => {
    const anonymous = await fetch(`${cluster.urlsWithoutCredentials[0]}/anonymous_db`, { method: 'PUT' });
    expect(anonymous.status).toBe(401);
    for (const node of nodes) expect((await node('GET', '/anonymous_db')).status).toBe(404);
  });

  it('replicates continuously: a write that reached node 1 only becomes readable at node 3', async () => {
    expect((await fronts[0]!('PUT', '/converge')).status).toBe(201);
    const written = await nodes[0]!('PUT', '/converge/only-on-node-1', { v: 1 });
    expect(written.status).toBe(201);
    const atNode3 = await eventually(async () => {
      const read = await nodes[2]!('GET', '/converge/only-on-node-1');
      return read.status === 200 ? read.body : undefined;
    });
    expect(atNode3._rev).toBe(written.body.rev);

    // Through the fronts: r=1 at node 3 reads node 3's copy only.
    const viaFront = await fronts[0]!('PUT', '/converge/via-front', { v: 2 });
    const readAtFront3 = await eventually(async () => {
      const read = await fronts[2]!('GET', '/converge/via-front?r=1');
      return read.status === 200 ? read.body : undefined;
    });
    expect(readAtFront3._rev).toBe(viaFront.body.rev);
  });

  it('answers 201 when w replicas accept, 202 when fewer do, 409 when none does; ?w= sets the quorum', async () => {
    expect((await fronts[0]!('PUT', '/quorum')).status).toBe(201);
    const rev1 = {
      strict: await createEverywhere('quorum', 'strict'),
      lenient: await createEverywhere('quorum', 'lenient'),
      byDefault: await createEverywhere('quorum', 'by-default'),
    };
    await cluster.pauseReplication();
    // Node 1 alone moves each document on (a write that reached it only): it now refuses rev 1.
    for (const [id, rev] of [
      ['strict', rev1.strict],
      ['lenient', rev1.lenient],
      ['by-default', rev1.byDefault],
    ]) {
      expect((await nodes[0]!('PUT', `/quorum/${id}`, { _rev: rev, v: 'node 1 alone' })).status).toBe(201);
    }

    const strict = await fronts[1]!('PUT', '/quorum/strict?w=3', { _rev: rev1.strict, v: 'front' });
    expect(strict).toMatchObject({ status: 202, body: { ok: true, id: 'strict' } });
    const lenient = await fronts[1]!('PUT', '/quorum/lenient?w=2', { _rev: rev1.lenient, v: 'front' });
    expect(lenient).toMatchObject({ status: 201, body: { ok: true, id: 'lenient' } });
    const byDefault = await fronts[1]!('PUT', '/quorum/by-default', { _rev: rev1.byDefault, v: 'front' });
    expect(byDefault.status).toBe(201);

    const nowhere = await fronts[2]!('PUT', '/quorum/strict', { _rev: '1-00000000000000000000000000000000' });
    expect(nowhere).toMatchObject({ status: 409, body: { error: 'conflict' } });
    // More than n can never be met: accepted, as CouchDB answers it.
    expect((await fronts[2]!('PUT', '/quorum/unreachable?w=4', { v: 1 })).status).toBe(202);

    const removed = await fronts[0]!('DELETE', `/quorum/lenient?rev=${lenient.body.rev}`);
    expect(removed).toMatchObject({ status: 200, body: { ok: true } });
  });

  it('merges the replicas on read: r sets how many are read, conflicts=true lists leaves written on different nodes', async () => {
    expect((await fronts[0]!('PUT', '/merged')).status).toBe(201);
    const rev1 = await createEverywhere('merged', 'doc');
    await cluster.pauseReplication();
    const onNode1 = (await nodes[0]!('PUT', '/merged/doc', { _rev: rev1, v: 'node 1' })).body.rev as string;
    const onNode2 = (await nodes[1]!('PUT', '/merged/doc', { _rev: rev1, v: 'node 2' })).body.rev as string;
    // Two leaves at position 2: the greater revision id wins, the other is the conflict.
    const [winner, loser] = [onNode1, onNode2].sort().reverse();

    // At node 3's front: r=1 reads node 3 alone, which has neither update.
    expect((await fronts[2]!('GET', '/merged/doc?r=1&conflicts=true')).body).toMatchObject({ _rev: rev1 });
    // r=2 adds node 1, whose leaf descends from node 3's: one leaf, no conflict.
    const r2 = await fronts[2]!('GET', '/merged/doc?r=2&conflicts=true');
    expect(r2.body).toMatchObject({ _rev: onNode1, v: 'node 1' });
    expect(r2.body._conflicts).toBeUndefined();
    // r=3 sees both branches.
    const r3 = await fronts[2]!('GET', '/merged/doc?r=3&conflicts=true');
    expect(r3.body).toMatchObject({ _id: 'doc', _rev: winner, _conflicts: [loser] });
    expect(r3.body._revisions).toBeUndefined();
    expect((await fronts[2]!('GET', '/merged/doc?r=3')).body._conflicts).toBeUndefined();
    const history = (await fronts[2]!('GET', '/merged/doc?r=3&revs=true')).body._revisions;
    expect(history).toEqual({ start: 2, ids: [winner!.slice(2), rev1.slice(2)] });

    // A given revision comes from the first replica read that holds it.
    expect((await fronts[2]!('GET', `/merged/doc?rev=${onNode2}&r=1`)).status).toBe(404);
    const given = await fronts[2]!('GET', `/merged/doc?rev=${onNode2}&r=3`);
    expect(given).toMatchObject({ status: 200, body: { _rev: onNode2, v: 'node 2' } });

    // Replication then stores the conflict on every replica, with the same winner.
    cluster.resumeReplication();
    for (const node of nodes) {
      const stored = await eventually(async () => {
        const read = await node('GET', '/merged/doc?conflicts=true');
        return read.body._conflicts ? read.body : undefined;
      });
      expect(stored).toMatchObject({ _rev: winner, _conflicts: [loser] });
    }
  });

  it('merged read: a live leaf wins over a deleted one; 404 deleted or missing otherwise', async () => {
    const rev1 = await createEverywhere('merged', 'deleted-branch');
    await cluster.pauseReplication();
    const live = (await nodes[0]!('PUT', '/merged/deleted-branch', { _rev: rev1, v: 'live' })).body.rev;
    const other = (await nodes[1]!('PUT', '/merged/deleted-branch', { _rev: rev1, v: 'other' })).body.rev;
    const tombstone = await nodes[1]!('DELETE', `/merged/deleted-branch?rev=${other}`);
    expect(tombstone.body.rev).toMatch(/^3-/);

    const read = await fronts[2]!('GET', '/merged/deleted-branch?r=3&conflicts=true');
    expect(read).toMatchObject({ status: 200, body: { _rev: live, v: 'live' } });
    expect(read.body._conflicts).toBeUndefined();

    await nodes[0]!('DELETE', `/merged/deleted-branch?rev=${live}`);
    await nodes[2]!('DELETE', `/merged/deleted-branch?rev=${rev1}`);
    expect(await fronts[0]!('GET', '/merged/deleted-branch?r=3')).toEqual({
      status: 404,
      body: { error: 'not_found', reason: 'deleted' },
    });
    expect(await fronts[0]!('GET', '/merged/never-written')).toEqual({
      status: 404,
      body: { error: 'not_found', reason: 'missing' },
    });
  });

  it('_bulk_docs answers per document: 202 with accepted:true when one missed w, conflicts per doc, ids from the coordinator', async () => {
    expect((await fronts[0]!('PUT', '/bulk')).status).toBe(201);
    const lagging = await createEverywhere('bulk', 'lagging');
    const laggingToo = await createEverywhere('bulk', 'lagging-too');
    await createEverywhere('bulk', 'taken');
    await cluster.pauseReplication();
    await nodes[0]!('PUT', '/bulk/lagging', { _rev: lagging, v: 'node 1 alone' });
    await nodes[0]!('PUT', '/bulk/lagging-too', { _rev: laggingToo, v: 'node 1 alone' });

    const docs = [
      { _id: 'lagging', _rev: lagging, v: 'bulk' },
      { _id: 'fresh', v: 1 },
      { _id: 'taken', v: 'without its rev' },
      { v: 'without an id' },
    ];
    const strict = await fronts[1]!('POST', '/bulk/_bulk_docs?w=3', { docs });
    expect(strict.status).toBe(202);
    expect(strict.body).toEqual([
      { ok: true, id: 'lagging', rev: expect.stringMatching(/^2-/), accepted: true },
      { ok: true, id: 'fresh', rev: expect.stringMatching(/^1-/) },
      { id: 'taken', error: 'conflict', reason: expect.any(String) },
      { ok: true, id: expect.stringMatching(/^[0-9a-f]{32}$/), rev: expect.stringMatching(/^1-/) },
    ]);
    // The coordinator chose the id, so every replica has the same document.
    const generatedId = strict.body[3].id;
    for (const node of nodes) {
      await eventually(async () =>
        (await node('GET', `/bulk/${generatedId}`)).status === 200 ? true : undefined,
      );
    }

    const byDefault = await fronts[2]!('POST', '/bulk/_bulk_docs', {
      docs: [{ _id: 'lagging-too', _rev: laggingToo, v: 'bulk' }],
    });
    expect(byDefault).toEqual({
      status: 201,
      body: [{ ok: true, id: 'lagging-too', rev: expect.stringMatching(/^2-/) }],
    });
  });

  it('POST /db gives the new document one id on every replica', async () => {
    expect((await fronts[0]!('PUT', '/posted')).status).toBe(201);
    const posted = await fronts[1]!('POST', '/posted', { v: 'no id' });
    expect(posted.body).toMatchObject({ ok: true, id: expect.stringMatching(/^[0-9a-f]{32}$/) });
    for (const node of nodes) {
      const copy = await eventually(async () => {
        const read = await node('GET', `/posted/${posted.body.id}`);
        return read.status === 200 ? read.body : undefined;
      });
      expect(copy._rev).toBe(posted.body.rev);
    }
  });

  it('sends views and _all_docs to the home node: they show only what that replica has', async () => {
    expect((await fronts[0]!('PUT', '/viewed')).status).toBe(201);
    const ddoc = { views: { all: { map: 'function (doc) { emit(doc._id, null); }' } } };
    await createEverywhere('viewed', '_design/tokens', ddoc);
    await createEverywhere('viewed', 't1');
    await cluster.pauseReplication();
    expect((await nodes[0]!('PUT', '/viewed/t2', { v: 2 })).status).toBe(201);

    const idsInView = async (front: Client) =>
      (await front('GET', '/viewed/_design/tokens/_view/all')).body.rows.map((row: { id: string }) => row.id);
    expect(await idsInView(fronts[0]!)).toEqual(['t1', 't2']);
    expect(await idsInView(fronts[2]!)).toEqual(['t1']);
    expect((await fronts[2]!('GET', '/viewed/_all_docs')).body.total_rows).toBe(2);

    cluster.resumeReplication();
    await eventually(async () => ((await idsInView(fronts[2]!)).length === 2 ? true : undefined));
  });
});

describe('CouchDB cluster stand-in, close()', () => {
  it('leaves nothing running: a process that starts, uses and closes a cluster exits by itself', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lrt-cluster-exit-'));
    const script = join(dir, 'cluster.mts');
    await writeFile(
      script,
      `import { startCouchCluster } from ${JSON.stringify(resolve('src/dbserver/index.ts'))};
const cluster = await startCouchCluster({ nodes: 3 });
const headers = {
  authorization: 'Basic ' + Buffer.from('admin:' + cluster.adminPassword).toString('base64'),
  'content-type': 'application/json',
};
const [front] = cluster.urlsWithoutCredentials;
await fetch(front + '/db', { method: 'PUT', headers });
for (let i = 0; i < 20; i++) await fetch(front + '/db/doc' + i, { method: 'PUT', headers, body: '{}' });
await cluster.pauseReplication();
cluster.resumeReplication();
await cluster.close();
console.log('closed');
`,
    );
    try {
      const child = await execa('node', ['--import', 'tsx', script], { timeout: 30_000, reject: false });
      expect(child.timedOut).toBe(false);
      expect(child.stdout).toBe('closed');
      expect(child.exitCode).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
