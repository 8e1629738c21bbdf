import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CouchCluster, startCouchCluster } from '../../src/dbserver';
import { openPicas, type PicasDb } from '../../src/picas/client';
import { splitUrlCredentials } from '../../src/picas/connectionSettings';
import { readLeaves, settled, settleWrite, writeDoc } from '../../src/picas/protocol';
import { type Client, clientFor, eventually } from '../dbserver/clusterClient';

/*
 * The settling of cluster writes (docs/protocol.md, Cluster rules, 3), on the 3-node stand-in with
 * its replication paused, so each replica's state is set by hand: the hard cases on demand.
 */

let cluster: CouchCluster;
let front: Client;
let nodes: Client[];
let picas: PicasDb;
let db: string;

beforeAll(async () => {
  cluster = await startCouchCluster({ nodes: 3 });
  front = clientFor(cluster.urls[0]!);
  nodes = cluster.nodeUrls.map(clientFor);
});
afterEach(async () => {
  cluster.resumeReplication();
  if (db) await front('DELETE', `/${db}`);
});
afterAll(async () => cluster?.close());

async function freshDatabase(): Promise<void> {
  db = `settle_${randomUUID().slice(0, 8)}`;
  expect((await front('PUT', `/${db}`)).status).toBe(201);
  const { url, user, password } = splitUrlCredentials(cluster.urls[0]!);
  picas = openPicas({ url, database: db, user, password });
}

/**
 * Revision 1 of `id` on every replica: w=3 waits for all three (202 too, when replication brought
 * the revision to a replica before the coordinator's own copy, which that replica then refuses).
 */
async function createEverywhere(id: string): Promise<string> {
  const created = await front('PUT', `/${db}/${id}?w=3`, { type: 'settle', v: 0 });
  expect(created.body.ok).toBe(true);
  return created.body.rev;
}

/** What replication does: revision `rev` of `id`, read from node `from`, stored on node `to`. */
async function replicate(id: string, rev: string, from: number, to: number): Promise<void> {
  const doc = (await nodes[from]!('GET', `/${db}/${id}?rev=${rev}&revs=true`)).body;
  const stored = await nodes[to]!('POST', `/${db}/_bulk_docs`, { docs: [doc], new_edits: false });
  expect(stored.status).toBe(201);
}

/**
 * Nodes 1 and 2 hold revision P (a child of revision 1), node 3 does not yet: a write on P through
 * the coordinator is then taken by two replicas of three (202).
 */
async function lagging(id: string): Promise<{ base: string }> {
  const rev1 = await createEverywhere(id);
  await cluster.pauseReplication();
  const onNode1 = await nodes[0]!('PUT', `/${db}/${id}`, { _rev: rev1, type: 'settle', v: 'P' });
  const onNode2 = await nodes[1]!('PUT', `/${db}/${id}`, { _rev: rev1, type: 'settle', v: 'P' });
  // PouchDB's revisions are deterministic: the same write makes the same revision on both.
  expect(onNode2.body.rev).toBe(onNode1.body.rev);
  return { base: onNode1.body.rev };
}

describe('settling a write on a cluster', () => {
  it('a 202 is put on every replica before it is decided: a lagging replica then refuses a rival on the same base', async () => {
    await freshDatabase();
    const { base } = await lagging('spread');
    const written = await writeDoc(picas, { _id: 'spread', _rev: base, type: 'settle', v: 'ours' });
    expect(written.uncertain).toBe(true);
    expect(await settled(picas, 'spread', written)).toBe(written.rev);

    // Replication brings P to node 3; a rival write on P reaches node 3 alone. Our revision is
    // there already, so P is no leaf there: refused.
    await replicate('spread', base, 0, 2);
    const rival = await nodes[2]!('PUT', `/${db}/spread`, { _rev: base, type: 'settle', v: 'rival' });
    expect(rival.status).toBe(409);

    cluster.resumeReplication();
    for (const node of nodes) {
      const stored = await eventually(async () => {
        const read = await node('GET', `/${db}/spread?conflicts=true`);
        return read.body._rev === written.rev ? read.body : undefined;
      });
      expect(stored).toMatchObject({ v: 'ours' });
      expect(stored._conflicts).toBeUndefined();
    }
  });

  it('the hard case it prevents: a 202 left as it is, the lagging replica takes the rival and the token is in conflict', async () => {
    await freshDatabase();
    const { base } = await lagging('unspread');
    const written = await writeDoc(picas, { _id: 'unspread', _rev: base, type: 'settle', v: 'ours' });
    expect(written.uncertain).toBe(true);

    await replicate('unspread', base, 0, 2);
    const rival = await nodes[2]!('PUT', `/${db}/unspread`, { _rev: base, type: 'settle', v: 'rival' });
    expect(rival.status).toBe(201);
    const leaves = await readLeaves(picas, 'unspread');
    expect(
      leaves
        .filter((leaf) => !leaf.deleted)
        .map((leaf) => leaf.rev)
        .sort(),
    ).toEqual([written.rev, rival.body.rev].sort());
  });

  it('a longer branch grown on a losing leaf wins: its writer and the old winner settle on the same answer', async () => {
    await freshDatabase();
    const rev1 = await createEverywhere('grown');
    await cluster.pauseReplication();
    const x = (await nodes[0]!('PUT', `/${db}/grown`, { _rev: rev1, type: 'settle', v: 'x' })).body
      .rev as string;
    const y = (await nodes[1]!('PUT', `/${db}/grown`, { _rev: rev1, type: 'settle', v: 'y' })).body
      .rev as string;
    for (const [rev, from] of [
      [x, 0],
      [y, 1],
    ] as const) {
      for (const to of [0, 1, 2]) if (to !== from) await replicate('grown', rev, from, to);
    }
    const [winner, loser] = [x, y].sort().reverse() as [string, string];
    expect((await readLeaves(picas, 'grown')).map((leaf) => leaf.rev)).toEqual([winner, loser]);

    // A writer that read the losing leaf writes on it: every replica holds that leaf, so 201.
    const onLoser = await writeDoc(picas, { _id: 'grown', _rev: loser, type: 'settle', v: 'on the loser' });
    expect(onLoser.uncertain).toBe(false);

    // The old winner is now the shorter branch: it lost, and its leaf is deleted.
    const old = await settleWrite(picas, 'grown', winner, { spread: false });
    expect(old).toMatchObject({ fate: 'lost', winner: { _rev: onLoser.rev, extra: { v: 'on the loser' } } });
    expect(await settled(picas, 'grown', onLoser)).toBe(onLoser.rev);
    const live = (await readLeaves(picas, 'grown')).filter((leaf) => !leaf.deleted);
    expect(live.map((leaf) => leaf.rev)).toEqual([onLoser.rev]);
  });

  it('a 201 on a leaf that loses to a longer branch does not count: settled rejects it like a 409', async () => {
    await freshDatabase();
    const rev1 = await createEverywhere('shorter');
    await cluster.pauseReplication();
    // Node 1 alone grows a branch of two revisions; the other replicas hold revision 1 only.
    const a2 = (await nodes[0]!('PUT', `/${db}/shorter`, { _rev: rev1, type: 'settle', v: 'a2' })).body.rev;
    const a3 = (await nodes[0]!('PUT', `/${db}/shorter`, { _rev: a2, type: 'settle', v: 'a3' })).body.rev;
    // Our write on revision 1 through nodes 2 and 3, with w=2: 201, on the shorter branch.
    const ours = await front('PUT', `/${db}/shorter?w=2`, { _rev: rev1, type: 'settle', v: 'ours' });
    expect(ours.status).toBe(201);
    await expect(settled(picas, 'shorter', { rev: ours.body.rev, uncertain: false })).rejects.toMatchObject({
      statusCode: 409,
    });
    const live = (await readLeaves(picas, 'shorter')).filter((leaf) => !leaf.deleted);
    expect(live.map((leaf) => leaf.rev)).toEqual([a3]);
  });
});
