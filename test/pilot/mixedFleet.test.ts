import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, inject, it } from 'vitest';
import type { StoredToken } from '../../src/picas/tokenDoc';
import { lrt } from '../helpers/cli';
import { type PicasWrite, runPicasWorker } from '../helpers/picasclientWorker';
import { createPilotWorld, demoTokens } from '../helpers/pilotWorld';
import { CloudantDocument, CouchdbPythonDatabase, pyServerOf } from '../helpers/pythonClients';

/*
 * A mixed fleet on one database (docs/protocol.md, Take-over by another tool): 2 grid-lrt pilots
 * (real processes) and 2 picasclient workers (picasclientWorker.ts: its exact requests) on 100
 * tokens. picasclient re-locks tokens our pilots hold whenever our claim lands between its view
 * read and its GET. Here that gap lasts until the chosen token is claimed by someone, at most 3 s
 * (a link that stalls just then), so that the race happens in every run rather than in some. Our
 * pilots must never write after such a take-over. On the cluster stand-in picasclient's writes
 * (default quorum) can leave stored conflicts, and the revision walk below assumes one branch:
 * this test runs on a single server.
 */

const onCluster = inject('couchKind') === 'cluster';
const TYPE = 'fleet';
const TOKENS = 100;

interface Revision {
  rev: string;
  doc: StoredToken;
}

/** The token's revisions, oldest first, each with its body (nothing is compacted in the test). */
async function history(python: CouchdbPythonDatabase, id: string): Promise<Revision[]> {
  const latest = await python.get(id, { revs: 'true' });
  const revisions = latest?._revisions as { start: number; ids: string[] };
  const revs = revisions.ids.map((hash, k) => `${revisions.start - k}-${hash}`).reverse();
  return Promise.all(revs.map(async (rev) => ({ rev, doc: (await python.get(id, { rev })) as StoredToken })));
}

describe.skipIf(onCluster)('mixed fleet: grid-lrt pilots and picasclient workers on one database', () => {
  it('runs 100 tokens; every take-over is seen and our pilots never write after it', async () => {
    const world = await createPilotWorld({ type: TYPE, tokens: demoTokens(TYPE, TOKENS) });
    const python = new CouchdbPythonDatabase(pyServerOf(world.db));
    // GRID_LRT 1.0 attaches each token's srm.txt with python-cloudant (If-Match, no ?rev=).
    const surls = new Map<string, string>();
    for (const token of demoTokens(TYPE, TOKENS)) {
      const text = token.attachments![0]!.data.toString().replace('demo/1/', 'demo/2/');
      surls.set(token.id, text);
      const reply = await new CloudantDocument(python.server, token.id).putAttachment(
        'srm.txt',
        'text/plain',
        text,
      );
      expect(reply.status).toBe(201);
    }
    const writes: PicasWrite[] = [];
    const env = { DEMO_SLEEP: '0.5' };
    // The test's own reads, on a connection of their own: not part of picasclient's requests.
    const observer = new CouchdbPythonDatabase({ ...python.server });
    const stallUntilClaimed = async (id: string) => {
      for (const until = Date.now() + 3000; Date.now() < until; await sleep(50)) {
        if (Number((await observer.get(id))?.lock) > 0) return;
      }
    };
    const pilots = [0, 1].map((i) =>
      world.startPilot(['--lease', '6', '--poll', '0.5'], { ...env, ...world.nodeEnv(i) }),
    );
    const workers = [1, 2].map((n) =>
      runPicasWorker({
        db: python,
        designDoc: TYPE,
        hostname: `picas-wn-${n}`,
        workSeconds: 0.3,
        beforeGet: stallUntilClaimed,
        writes,
      }),
    );
    const processed = await Promise.all(workers);
    const results = await Promise.all(pilots);
    for (const result of results) expect(result.exitCode, result.all).toBe(0);
    const pilotOutput = results.map((r) => r.all).join('\n');

    const picasRevs = new Map(writes.map((w) => [w.rev, w]));
    // Every host that locked the token while our lease was still on it: when both picasclient
    // workers took it in turn, our pilot names the one whose lock it read.
    const takenOver = new Map<string, string[]>();
    const ids = demoTokens(TYPE, TOKENS).map((t) => t.id);
    for (const id of ids) {
      const revs = await history(python, id);
      const final = revs.at(-1)!.doc;
      expect(Number(final.done), `${id} finished`).toBeGreaterThan(0);
      expect(await python.getAttachment(id, 'srm.txt'), `${id} srm.txt as GRID_LRT attached it`).toBe(
        surls.get(id),
      );
      // A take-over: picasclient's lock written on a token that still carried our lease (our
      // finish removes it), i.e. one our pilot held.
      const first = revs.findIndex((r) => picasRevs.get(r.rev)?.kind === 'lock' && r.doc.lease !== undefined);
      if (first < 0) continue;
      takenOver.set(
        id,
        revs
          .slice(first)
          .filter((r) => picasRevs.get(r.rev)?.kind === 'lock' && r.doc.lease !== undefined)
          .map((r) => picasRevs.get(r.rev)!.hostname),
      );
      const ours = revs.slice(first + 1).filter((r) => !picasRevs.has(r.rev));
      expect(
        ours.map((r) => r.rev),
        `${id}: our writes after picasclient took it`,
      ).toEqual([]);
      expect(final.lease, id).toBeDefined();
      expect(final.exit_code, id).toBe(0);
    }

    // The race was produced: otherwise this run proves nothing.
    expect(takenOver.size, `picasclient processed ${processed.join('+')} tokens`).toBeGreaterThan(0);
    for (const [id, hosts] of takenOver) {
      const seen = hosts.filter((host) =>
        pilotOutput.includes(`token ${id} taken over by another tool (lock changed by ${host})`),
      );
      expect(seen.length, `${id} taken over by ${hosts.join(', then ')}: our pilot said so`).toBeGreaterThan(
        0,
      );
    }

    // lrt status lists exactly these tokens.
    const status = await lrt(['status', '--type', TYPE, '--json', '--rows', '200'], {
      env: {
        PICAS_URL: world.db.baseUrl,
        PICAS_DB: world.db.name,
        PICAS_USR: world.db.user,
        PICAS_USR_PWD: world.db.password,
      },
    });
    expect(status.exitCode, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout);
    expect(report.finished).toBe(TOKENS);
    expect((report.takenOver as { id: string }[]).map((t) => t.id).sort()).toEqual(
      [...takenOver.keys()].sort(),
    );
  }, 240_000);
});
