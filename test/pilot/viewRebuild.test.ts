import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { openPicas } from '../../src/picas/client';
import { readClaimDesignDoc } from '../../src/picas/designDocStore';
import { conditionView } from '../../src/picas/viewDefinitions';
import { lrt } from '../helpers/cli';
import { adminAuthHeader } from '../helpers/couch';
import {
  COUCH_TIMEOUT_REASON,
  type IndexBuildServer,
  startIndexBuildServer,
} from '../helpers/indexBuildServer';
import { createPilotWorld, demoTokens, waitFor } from '../helpers/pilotWorld';

/*
 * issue 18: a changed design document makes CouchDB build its whole index again; meanwhile a read
 * that waits for it times out (HTTP 500 "timeout") and a read that does not comes back empty.
 * The stand-in (test/helpers/indexBuildServer.ts) does both over real sockets; pilots and lrt meet
 * it here as real processes.
 */

const servers: IndexBuildServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

/** The stand-in in front of `target`: builds last `buildMs`, the server's request timeout is `timeoutMs`. */
async function standIn(target: string, buildMs: number, timeoutMs: number): Promise<IndexBuildServer> {
  const stand = await startIndexBuildServer(target, { buildMs, timeoutMs, adminAuth: adminAuthHeader() });
  servers.push(stand);
  return stand;
}

/** A claim design document with another source (an upgrade of the spread function would do this). */
async function rewriteClaimDesignDoc(
  url: string,
  db: string,
  type: string,
  current: Record<string, unknown>,
) {
  const views = current.views as Record<string, { map: string }>;
  const changed = {
    ...current,
    views: { todo_spread: { map: views.todo_spread!.map.replace('{', '{\n  var v2 = true;') } },
  };
  const res = await fetch(`${url}/${db}/_design/${encodeURIComponent(`claim:${type}`)}`, {
    method: 'PUT',
    headers: { authorization: adminAuthHeader(), 'content-type': 'application/json' },
    body: JSON.stringify(changed),
  });
  expect(res.status).toBe(201);
}

describe('a view index being rebuilt (CouchDB stand-in)', () => {
  it('the stand-in answers as CouchDB does: 500 timeout when waiting, empty when stale, the build in _active_tasks', async () => {
    const world = await createPilotWorld({ type: 'rbstand', tokens: demoTokens('rbstand', 5) });
    const stand = await standIn(world.db.baseUrl, 3000, 200);
    const base = new URL(stand.via(world.db.baseUrl)).origin;
    const claimDoc = (await readClaimDesignDoc(world.picas, 'rbstand'))!;
    await rewriteClaimDesignDoc(base, world.db.name, 'rbstand', claimDoc as never);
    expect(stand.building()).toEqual([`${world.db.name}/_design/claim:rbstand`]);

    const headers = { authorization: adminAuthHeader() };
    const view = `${base}/${world.db.name}/_design/${encodeURIComponent('claim:rbstand')}/_view/todo_spread`;
    const upToDate = await fetch(`${view}?limit=5`, { headers });
    expect(upToDate.status).toBe(500);
    expect(await upToDate.json()).toEqual({ error: 'timeout', reason: COUCH_TIMEOUT_REASON });
    const stale = await fetch(`${view}?limit=5&stable=true&update=lazy`, { headers });
    expect(stale.status).toBe(200);
    expect(await stale.json()).toMatchObject({ total_rows: 0, rows: [] });
    // The other design documents answer as ever: only the changed one is rebuilt.
    const todo = await fetch(`${base}/${world.db.name}/_design/rbstand/_view/todo`, { headers });
    expect(((await todo.json()) as { rows: unknown[] }).rows).toHaveLength(5);

    const tasks = (await (await fetch(`${base}/_active_tasks`, { headers })).json()) as Record<
      string,
      unknown
    >[];
    expect(tasks).toEqual([
      expect.objectContaining({
        type: 'indexer',
        design_document: '_design/claim:rbstand',
        database: expect.stringContaining(world.db.name),
        total_changes: expect.any(Number),
        changes_done: expect.any(Number),
      }),
    ]);
    expect((await fetch(`${base}/_active_tasks`)).status).toBe(401);
    await waitFor(async () => (stand.building().length === 0 ? true : undefined), 10_000, 'the build');
    const built = await fetch(`${view}?limit=5`, { headers });
    expect(((await built.json()) as { rows: unknown[] }).rows).toHaveLength(5);
  });

  it('pilots at work when the claim index is rebuilt keep their tokens, wait for the index, and drain the rest', async () => {
    const TOKENS = 12;
    const world = await createPilotWorld({ type: 'rbfleet', tokens: demoTokens('rbfleet', TOKENS) });
    const stand = await standIn(world.db.baseUrl, 5000, 300);
    const url = stand.via(world.env.PICAS_URL!);
    const claimDoc = (await readClaimDesignDoc(world.picas, 'rbfleet'))!;
    const logs = [0, 1, 2].map((i) => join(world.dir, `pilot-${i}.log`));
    // Each token's payload takes 0.4 s: the fleet is mid-run when the design document changes.
    const pilots = logs.map((log) =>
      world.startPilot(['--log', log, '--json', '--db-wait', '1'], { PICAS_URL: url, DEMO_SLEEP: '0.4' }),
    );
    await waitFor(
      async () => ((await world.ledgerLines()).length >= 2 ? true : undefined),
      30_000,
      'first tokens',
    );
    await rewriteClaimDesignDoc(new URL(url).origin, world.db.name, 'rbfleet', claimDoc as never);
    const results = await Promise.all(pilots);
    for (const r of results) expect(r.exitCode, r.all).toBe(0);
    // Every token done exactly once; no pilot gave up on a timed-out or empty read.
    expect((await world.ledgerLines()).sort()).toEqual(
      demoTokens('rbfleet', TOKENS)
        .map((t) => t.id)
        .sort(),
    );
    const done = results.reduce((n, r) => n + (JSON.parse(r.stdout) as { done: number }).done, 0);
    expect(done).toBe(TOKENS);
    expect(stand.counts.timeouts).toBeGreaterThan(0);
    expect(stand.counts.staleEmpty).toBeGreaterThan(0);
    const logText = (await Promise.all(logs.map((l) => readFile(l, 'utf8')))).join('');
    expect(logText).toContain('the server is still building the view index');
    // --db-wait 1: an outage longer than 1 s would have ended them; the index wait does not count.
    expect(logText).not.toMatch(/database unavailable/);
  }, 90_000);

  it('lrt views add and tokens list wait for the index with a message; progress from _active_tasks', async () => {
    const world = await createPilotWorld({ type: 'rbcli', tokens: demoTokens('rbcli', 4) });
    const stand = await standIn(world.db.baseUrl, 2500, 300);
    const env = { PICAS_URL: stand.via(world.env.PICAS_URL!), PICAS_DB: world.db.name };
    const added = await lrt(
      ['views', 'add', '--type', 'rbcli', '--name', 'first2', '--condition', 'doc.STARTSB < "002"'],
      { env },
    );
    expect(added.exitCode, added.stderr).toBe(0);
    expect(added.stdout).toMatch(
      /view first2 of _design\/views:rbcli: added, index built in [0-9.]+ s \(2 rows\)/,
    );
    // The bar, drawn from /_active_tasks (stderr is no terminal: a line per draw).
    expect(added.stderr).toMatch(/building the index of _design\/views:rbcli \[[#-]+\] \d+\/\d+/);
    expect(added.stderr).toContain('lrt: view first2 of _design/views:rbcli: the server is still building');

    // A change of _design/<type> (as an older version's views add made): tokens list waits and says so.
    const typeDoc = await world.picas.db.get('_design/rbcli');
    const put = await fetch(`${new URL(env.PICAS_URL).origin}/${world.db.name}/_design/rbcli`, {
      method: 'PUT',
      headers: { authorization: adminAuthHeader(), 'content-type': 'application/json' },
      body: JSON.stringify({ ...typeDoc, marker: 1 }),
    });
    expect(put.status).toBe(201);
    const listed = await lrt(['tokens', 'list', '--type', 'rbcli', '--view', 'todo', '--json'], { env });
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('t_rbcli_L1_SB003');
    expect(listed.stderr).toContain(
      'view todo of _design/rbcli: the server is still building the view index',
    );
    // A user who is no server admin gets no progress (CouchDB shows /_active_tasks to admins only).
    const picas = openPicas({ url: stand.via(world.db.baseUrl), database: world.db.name });
    expect(await (await import('../../src/picas/indexBuild')).readActiveTasks(picas)).toBe('refused');
  }, 60_000);

  it('lrt views migrate moves custom views out of _design/<type> while todo answers throughout', async () => {
    const TOKENS = 6;
    const world = await createPilotWorld({ type: 'rbmig', tokens: demoTokens('rbmig', TOKENS) });
    // As an older version left it: a custom view next to todo (written around the stand-in: built).
    const typeDoc = (await world.picas.db.get('_design/rbmig')) as unknown as {
      views: Record<string, unknown>;
    };
    await world.picas.db.insert({
      ...typeDoc,
      views: { ...typeDoc.views, mine: conditionView('rbmig', 'doc.STARTSB == "001"') },
    } as never);
    const stand = await standIn(world.db.baseUrl, 1500, 200);
    const env = { PICAS_URL: stand.via(world.env.PICAS_URL!), PICAS_DB: world.db.name };
    const todo = `${new URL(env.PICAS_URL).origin}/${world.db.name}/_design/rbmig/_view/todo`;
    const seen: string[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        for (const query of ['', '?stable=true&update=lazy']) {
          const res = await fetch(`${todo}${query}`, { headers: { authorization: adminAuthHeader() } });
          const body = (await res.json()) as { rows?: unknown[] };
          seen.push(`${res.status} ${body.rows?.length}`);
        }
        await sleep(100);
      }
    })();
    const migrated = await lrt(['views', 'migrate', '--type', 'rbmig', '--json'], { env });
    polling = false;
    await poller;
    expect(migrated.exitCode, migrated.stderr).toBe(0);
    const out = JSON.parse(migrated.stdout);
    expect(out.moved).toEqual(['mine']);
    expect(out.builds.map((b: { designDoc: string }) => b.designDoc)).toEqual([
      '_design/views:rbmig',
      '_design/next:rbmig',
      '_design/rbmig',
    ]);
    // The staged copy of _design/rbmig was built (its reads timed out meanwhile) ...
    expect(stand.counts.timeouts).toBeGreaterThan(0);
    // ... while todo answered every read, in full, the stale ones too.
    expect(seen.length).toBeGreaterThan(4);
    expect(new Set(seen)).toEqual(new Set([`200 ${TOKENS}`]));
    const after = await world.picas.db.get('_design/rbmig');
    expect(Object.keys((after as unknown as { views: object }).views)).not.toContain('mine');
    const listed = await lrt(['tokens', 'list', '--type', 'rbmig', '--view', 'mine', '--json'], { env });
    expect(listed.stdout).toContain('t_rbmig_L1_SB001');
  }, 60_000);
});
