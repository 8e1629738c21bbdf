import { afterEach, describe, expect, it } from 'vitest';
import { preflightPassed, runPreflight } from '../../src/pilot/check';
import type { CheckResult } from '../../src/pilot/checkResult';
import { lrtProcess } from '../helpers/cli';
import { adminAuthHeader } from '../helpers/couch';
import { type IndexBuildServer, startIndexBuildServer } from '../helpers/indexBuildServer';
import { createPilotWorld, demoTokens } from '../helpers/pilotWorld';

/*
 * `lrt doctor` on a database whose view index is being built: CouchDB holds the view read and
 * answers HTTP 500 "timeout" (test/helpers/indexBuildServer.ts does so over real sockets). The
 * doctor says the index is being built, with the progress of /_active_tasks, and that it is no
 * error of the database, instead of a generic FAIL.
 */

const servers: IndexBuildServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

const LEAVE_OUT = ['--skip', 'sandbox', '--skip', 'tools', '--skip', 'proxy', '--skip', 'disk'];

/** A database of `type` whose `_design/<type>` is rewritten through the stand-in: its index builds. */
async function buildingWorld(type: string, timeoutMs: number) {
  const world = await createPilotWorld({ type, tokens: demoTokens(type, 4) });
  const stand = await startIndexBuildServer(world.db.baseUrl, {
    buildMs: 120_000,
    timeoutMs,
    adminAuth: adminAuthHeader(),
  });
  servers.push(stand);
  const url = stand.via(world.env.PICAS_URL!);
  const typeDoc = await world.picas.db.get(`_design/${type}`);
  const put = await fetch(`${new URL(url).origin}/${world.db.name}/_design/${type}`, {
    method: 'PUT',
    headers: { authorization: adminAuthHeader(), 'content-type': 'application/json' },
    body: JSON.stringify({ ...typeDoc, marker: 1 }),
  });
  expect(put.status).toBe(201);
  expect(stand.building()).toEqual([`${world.db.name}/_design/${type}`]);
  return { world, stand, url };
}

describe('lrt doctor while a view index is being built', () => {
  it('says the index is being built, with its progress, and that the database is fine', async () => {
    const type = 'drbuild';
    const { world, url } = await buildingWorld(type, 300);
    const env = { PICAS_URL: url, PICAS_DB: world.db.name };
    const json = await lrtProcess(['doctor', '--type', type, ...LEAVE_OUT, '--json'], { env });
    expect(json.exitCode, json.stderr).toBe(0);
    const checks = (JSON.parse(json.stdout) as { ok: boolean; checks: CheckResult[] }).checks;
    const views = checks.find((c) => c.name === 'views')!;
    expect(views).toMatchObject({
      ok: true,
      indexBuild: {
        source: 'active_tasks',
        builds: [{ designDoc: `_design/${type}`, totalChanges: expect.any(Number) }],
      },
    });
    expect(views.skipped).toBeUndefined();
    expect(views.detail).toMatch(
      new RegExp(`a view index is being built \\(_design/${type}: \\d+ of \\d+ changes indexed`),
    );
    expect(views.detail).toContain('the server answered "timeout"');
    expect(views.detail).toContain('not an error of your database');
    const tokens = checks.find((c) => c.name === 'tokens')!;
    expect(tokens).toMatchObject({ ok: true, skipped: true });
    expect(tokens.detail).toMatch(/^cannot look yet: a view index is being built/);

    // The lines a user reads.
    const text = await lrtProcess(['doctor', '--type', type, ...LEAVE_OUT], { env });
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^ok {3}views {5}a view index is being built \(_design\/drbuild: /m);
    expect(text.stdout).toMatch(/^skip {1}tokens {4}cannot look yet: /m);
    expect(text.stdout).not.toMatch(/FAIL/);
  }, 60_000);

  it('a view read still held when the check gives up: the build /_active_tasks lists', async () => {
    // CouchDB holds a read 60 s before its "timeout"; the check gives up sooner.
    const type = 'drheld';
    const { world, url } = await buildingWorld(type, 20_000);
    const parsed = new URL(url);
    const results = await runPreflight({
      picas: {
        url: parsed.origin,
        database: world.db.name,
        user: decodeURIComponent(parsed.username),
        password: decodeURIComponent(parsed.password),
      },
      type,
      workDir: '/tmp',
      sandboxBase: '',
      transfer: {},
      minFreeBytes: 0,
      path: '',
      defaultProxy: '/nonexistent',
      skip: ['sandbox', 'tools', 'proxy', 'disk'],
      timeoutMs: 1000,
    });
    const views = results.find((r) => r.name === 'views')!;
    expect(views).toMatchObject({ ok: true, indexBuild: { source: 'active_tasks' } });
    expect(views.detail).toContain('the view read is held while it builds');
    expect(views.detail).toContain(`_design/${type}: `);
    expect(preflightPassed(results)).toBe(true);
  }, 60_000);
});
