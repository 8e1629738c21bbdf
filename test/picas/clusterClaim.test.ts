import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CouchCluster, startCouchCluster } from '../../src/dbserver';
import { bulkCreateTokens } from '../../src/picas/bulkCreate';
import { openPicas, type PicasDb } from '../../src/picas/client';
import { rulesFor } from '../../src/picas/cluster';
import { splitUrlCredentials } from '../../src/picas/connectionSettings';
import { ensureDesignDoc } from '../../src/picas/designDocStore';
import {
  CACHED_CLAIM_PAGE_SIZE,
  type ClaimEvent,
  claimPatch,
  claimToken,
  fencedUpdate,
  finishPatch,
  heartbeatPatch,
  leaseOf,
  newCandidateCache,
  resetPatch,
  writeClaim,
  writeSettled,
} from '../../src/picas/protocol';
import { type StoredToken, tokenFromDoc, tokenToDoc } from '../../src/picas/tokenDoc';

/*
 * The claim and the fenced writes on a 3-node cluster stand-in (docs/cluster-standin.md): each
 * claimer talks to its own node, writes reach the replicas in different orders, so two claims on
 * the same `_rev` can both be taken (201 + 202, or 202 + 202 with w=3). docs/protocol.md, Cluster rules.
 */

const TYPE = 'clusterclaim';
let cluster: CouchCluster;

beforeAll(async () => {
  cluster = await startCouchCluster({ nodes: 3, jitterMs: 4 });
});
afterAll(async () => {
  await cluster?.close();
});

function picasOn(node: number, database: string, clusterSetting: 'auto' | 'off' = 'auto'): PicasDb {
  const { url, user, password } = splitUrlCredentials(cluster.urls[node % cluster.urls.length]!);
  return openPicas({ url, database, user, password, cluster: clusterSetting });
}

async function freshDatabase(prefix: string): Promise<string> {
  const name = `${prefix}_${randomUUID().slice(0, 8)}`;
  const picas = picasOn(0, name);
  await picas.server.db.create(name);
  await ensureDesignDoc(picas, TYPE);
  return name;
}

async function seed(database: string, count: number, from = 0): Promise<string[]> {
  const tokens = Array.from({ length: count }, (_, i) => ({
    id: `t_${TYPE}_${String(from + i).padStart(4, '0')}`,
  }));
  const report = await bulkCreateTokens(picasOn(0, database), TYPE, tokens);
  expect(report.failed).toEqual([]);
  return tokens.map((t) => t.id);
}

/** The token as every replica sees it, with its conflicting leaves (after replication settles). */
async function settledRead(database: string, id: string): Promise<StoredToken & { _conflicts?: string[] }> {
  const picas = picasOn(0, database);
  return picas.db.get(id, { conflicts: true, r: 3 } as never);
}

/** Waits until every replica holds the same winner for every token (bounded). */
async function converged(database: string, ids: string[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const revs = await Promise.all(
      cluster.nodeUrls.map(async (nodeUrl) => {
        const res = await fetch(`${nodeUrl.replace(/\/\/[^@]*@/, '//')}/${database}/_all_docs`, {
          headers: {
            authorization: `Basic ${Buffer.from(`${cluster.adminUser}:${cluster.adminPassword}`).toString('base64')}`,
          },
        });
        const body = (await res.json()) as { rows: { id: string; value: { rev: string } }[] };
        return JSON.stringify(body.rows.filter((r) => ids.includes(r.id)).map((r) => [r.id, r.value.rev]));
      }),
    );
    if (revs.every((r) => r === revs[0])) return;
    if (Date.now() > deadline) throw new Error('replicas did not converge within 20 s');
    await new Promise((done) => setTimeout(done, 100));
  }
}

const input = (leaseId: string, pilot: string) => ({
  leaseId,
  pilot,
  host: `wn-${pilot}`,
  jobIds: {},
  now: Math.floor(Date.now() / 1000),
  leaseSeconds: 600,
});

describe('cluster rules', () => {
  it('are on when the database reports n > 1, and can be forced', async () => {
    expect(rulesFor('auto', 3)).toEqual({ on: true, replicas: 3 });
    expect(rulesFor('auto', 1)).toEqual({ on: false, replicas: 1 });
    expect(rulesFor('auto', undefined)).toEqual({ on: false, replicas: 1 });
    expect(rulesFor('on', undefined)).toEqual({ on: true, replicas: 2 });
    expect(rulesFor('off', 3)).toEqual({ on: false, replicas: 1 });
  });
});

describe('two claims on the same _rev through two nodes', () => {
  const PAIRS = 60;

  async function racePairs(database: string, setting: 'auto' | 'off') {
    const ids = await seed(database, PAIRS);
    const a = picasOn(0, database, setting);
    const b = picasOn(1, database, setting);
    const outcomes: { id: string; a: boolean; b: boolean; settled: boolean }[] = [];
    for (const id of ids) {
      const doc = tokenFromDoc(await a.db.get(id));
      const leaseA = `A-${id}`;
      const leaseB = `B-${id}`;
      const patchA = claimPatch(doc, input(leaseA, 'A'));
      const patchB = claimPatch(doc, input(leaseB, 'B'));
      if (!('doc' in patchA) || !('doc' in patchB)) throw new Error('token not claimable');
      const [wa, wb] = await Promise.all([
        writeClaim(a, patchA.doc, leaseA),
        writeClaim(b, patchB.doc, leaseB),
      ]);
      outcomes.push({
        id,
        a: wa.rev !== undefined,
        b: wb.rev !== undefined,
        settled: wa.settled || wb.settled,
      });
    }
    await converged(database, ids);
    return outcomes;
  }

  it('without the cluster rules both can win: the hard case the stand-in produces', async () => {
    const outcomes = await racePairs(await freshDatabase('lrt_cluster_off'), 'off');
    const bothWon = outcomes.filter((o) => o.a && o.b).length;
    console.log(`cluster rules off: ${bothWon} of ${PAIRS} pairs both claimed the token`);
    expect(bothWon).toBeGreaterThan(0);
  });

  it('with the cluster rules exactly one keeps each token, settled before it counts, no conflict left', async () => {
    const database = await freshDatabase('lrt_cluster_on');
    const outcomes = await racePairs(database, 'auto');
    const settled = outcomes.filter((o) => o.settled).length;
    console.log(`cluster rules on: ${settled} of ${PAIRS} pairs needed settling; double claims: 0 expected`);
    expect(settled).toBeGreaterThan(0);
    for (const o of outcomes) {
      expect([o.a, o.b].filter(Boolean), o.id).toHaveLength(1);
      const stored = await settledRead(database, o.id);
      expect(stored._conflicts, o.id).toBeUndefined();
      expect(leaseOf(tokenFromDoc(stored))?.id).toBe(o.a ? `A-${o.id}` : `B-${o.id}`);
    }
  });
});

describe('every write path settles on the cluster', () => {
  it('a heartbeat racing a login-side reset: the token ends up reset or still ours, never both', async () => {
    const database = await freshDatabase('lrt_cluster_fence');
    const ids = await seed(database, 30);
    const pilot = picasOn(0, database);
    const login = picasOn(2, database);
    let lost = 0;
    for (const id of ids) {
      const doc = tokenFromDoc(await pilot.db.get(id));
      const leaseId = `L-${id}`;
      const patched = claimPatch(doc, input(leaseId, 'P'));
      if (!('doc' in patched)) throw new Error('not claimable');
      const { rev } = await writeClaim(pilot, patched.doc, leaseId);
      const claimed = { ...patched.doc, _rev: rev! };
      const reset = resetPatch(claimed, { now: 1 });
      if (!('doc' in reset)) throw new Error('reset skipped');
      const [beat, resetWrite] = await Promise.allSettled([
        fencedUpdate(pilot, id, leaseId, (d) => heartbeatPatch(d, leaseId, { now: 2, leaseSeconds: 600 })),
        // The reset writes on the same revision the heartbeat reads.
        writeSettled(login, tokenToDoc(reset.doc)),
      ]);
      const stored = await settledRead(database, id);
      expect(stored._conflicts, id).toBeUndefined();
      // A reset that lost its settlement rejects like a 409.
      const resetLanded = resetWrite.status === 'fulfilled';
      if (beat.status === 'rejected') {
        lost++;
        expect(String(beat.reason)).toContain('taken away');
      }
      // A reset that counted leaves the token free; one that lost leaves the pilot's lease.
      if (resetLanded) expect(leaseOf(tokenFromDoc(stored)), id).toBeUndefined();
      else expect(leaseOf(tokenFromDoc(stored))?.id, id).toBe(leaseId);
    }
    console.log(`heartbeat vs reset: ${lost} of ${ids.length} heartbeats found the lease gone`);
  });

  it('12 claimers on 3 nodes drain 300 tokens three times: each claimed and finished once, no conflicts', async () => {
    const database = await freshDatabase('lrt_cluster_drain');
    let settledClaims = 0;
    for (let drain = 0; drain < 3; drain++) {
      const ids = await seed(database, 100, drain * 100);
      const claimedBy = new Map<string, string[]>();
      await Promise.all(
        Array.from({ length: 12 }, async (_, c) => {
          const picas = picasOn(c, database);
          const cache = newCandidateCache();
          const pilotId = `pilot-${drain}-${c}`;
          for (;;) {
            const claimed = await claimToken(picas, TYPE, {
              pilotId,
              host: `wn-${c}`,
              leaseSeconds: 600,
              maxAttempts: 3,
              cache,
              pageSize: CACHED_CLAIM_PAGE_SIZE,
              onEvent: (e: ClaimEvent) => {
                if (e.type === 'settled') settledClaims++;
              },
            });
            if (!claimed) return;
            const id = claimed.doc._id;
            claimedBy.set(id, [...(claimedBy.get(id) ?? []), pilotId]);
            await fencedUpdate(
              picas,
              id,
              claimed.leaseId,
              (doc) => finishPatch(doc, claimed.leaseId, { now: 5, exitCode: 0, ok: true, phase: 'running' }),
              { current: claimed.doc },
            );
          }
        }),
      );
      await converged(database, ids);
      const twice = [...claimedBy].filter(([, by]) => by.length > 1);
      expect(twice, 'tokens claimed twice').toEqual([]);
      for (const id of ids) {
        const stored = await settledRead(database, id);
        expect(stored.status, id).toBe('done');
        expect(stored._conflicts, id).toBeUndefined();
        expect((stored.attempts as { pilot: string }[]).at(-1)?.pilot).toBe(claimedBy.get(id)?.[0]);
      }
    }
    console.log(`drains: ${settledClaims} claims were settled on the way`);
  });
});
