import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../../src/cli/command';
import { makeSrmStateCommand } from '../../src/cli/commands/srmState';
import { makeStageCommands } from '../../src/cli/commands/stage';
import { EXIT } from '../../src/cli/exitCodes';
import { runCli } from '../../src/cli/run';
import { ensureDesignDoc } from '../../src/picas/designDocStore';
import { subbandOf } from '../../src/srm';
import { createStagerClient, isStaged, resolveStagerSettings, submitAndMarkStaging } from '../../src/staging';
import { DIST_LRT, lrt, lrtProcess } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import { gridftpTestbed } from '../helpers/gridftp';
import { picasFor, viewIds } from '../helpers/seedTokens';
import { manualClock, type StagerDouble, startStagerServer } from '../helpers/stagerServer';
import { MIXED, mockLinkOf } from './gfalMock';
import { plannedTokens, SURLS } from './tokens';

const FIXTURES = join(__dirname, '../fixtures/staging');
const inFixtures = { cwd: FIXTURES };

let servers: StagerDouble[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function double(options: Parameters<typeof startStagerServer>[0] = {}) {
  const s = await startStagerServer(options);
  servers.push(s);
  return s;
}

function stagerEnv(s: StagerDouble, extra: Record<string, string> = {}): Record<string, string> {
  return { LTA_STAGER_URL: s.url, LOFAR_LTA_USER: s.user, LOFAR_LTA_PWD: s.password, ...extra };
}

/** Runs commands built with test deps (mock:// links) in this process, like the lrt() helper. */
async function run(
  commands: Command[],
  args: string[],
  env: Record<string, string | undefined>,
  cwd = FIXTURES,
) {
  let stdout = '';
  let stderr = '';
  const exitCode = await runCli(commands, args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env,
    cwd,
    home: '/nonexistent-home',
  });
  return { exitCode, stdout, stderr };
}

describe('lrt stage against the local stager', () => {
  it('submit prints the id of one request for the whole list', async () => {
    const s = await double({ firstId: 18748 });
    const r = await lrt(['stage', 'submit', 'srm_50_sara.txt'], { ...inFixtures, env: stagerEnv(s) });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('18748\n');
    expect(r.stderr).toMatch(/staging 51 SURLs of L229507 at sara: request 18748/);
    expect(s.calls).toHaveLength(1);
    expect(s.calls[0]!.params[0]).toEqual(SURLS);

    const split = await lrt(['stage', 'submit', '--json', '--max-per-request', '30', 'srm_50_sara.txt'], {
      ...inFixtures,
      env: stagerEnv(s),
    });
    expect(JSON.parse(split.stdout)).toEqual({
      ids: [18749, 18750],
      surls: 51,
      obsid: 'L229507',
      site: 'sara',
    });
  });

  it('status, list, surls and abort show what the stager says', async () => {
    const clock = manualClock();
    const s = await double({ now: clock.now, phaseMs: 1000, fileMs: 100, firstId: 18748 });
    const env = stagerEnv(s);
    await lrt(['stage', 'submit', 'srm_50_sara.txt'], { ...inFixtures, env });
    clock.advance(1000);
    expect((await lrt(['stage', 'status', '18748'], { env })).stdout).toBe(
      '18748  scheduled  0/51 files (0%)  sara\n',
    );
    const list = await lrt(['stage', 'list'], { env });
    expect(list.stdout.split('\n')).toEqual([
      'ID     STATUS     FILES  DONE  SITE  ABORT',
      '18748  scheduled  0/51   0%    sara',
      '',
    ]);
    clock.advance(1000 + 4 * 100);
    const surls = await lrt(['stage', 'surls', '18748'], { env });
    expect(surls.stdout).toBe(`${SURLS.slice(0, 5).join('\n')}\n`);
    const json = JSON.parse((await lrt(['stage', 'list', '--json'], { env })).stdout);
    expect(json).toEqual({
      count: 1,
      requests: [expect.objectContaining({ id: 18748, status: 'in progress', filesDone: 5, fileCount: 51 })],
    });
    expect((await lrt(['stage', 'abort', '18748'], { env })).stdout).toBe('abort requested for 18748\n');
    expect((await lrt(['stage', 'status', '18748'], { env })).stdout).toBe('18748  aborted\n');
  });

  it('wait polls until done, then says what is online', async () => {
    // Every call moves the stager's clock by 100 ms: the outcome does not depend on machine load.
    const clock = manualClock();
    const s = await double({ now: clock.now, phaseMs: 1000, fileMs: 100, onCall: () => clock.advance(100) });
    const env = stagerEnv(s);
    const id = (await lrt(['stage', 'submit', 'srm_50_sara.txt'], { ...inFixtures, env })).stdout.trim();
    const r = await lrt(['stage', 'wait', id, '--interval', '0.01', '--srm', 'srm_50_sara.txt'], {
      ...inFixtures,
      env,
    });
    expect(r.stderr).not.toMatch(/lrt:/);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(`request ${id}: success; 51 of 51 files online\n`);
    // 2 s of new/scheduled, then 51 files at 100 ms, polled with two calls (200 ms) per round.
    const statusCalls = s.calls.filter((c) => c.method === 'LtaStager.getstatus').length;
    expect(statusCalls).toBeGreaterThanOrEqual((2000 + SURLS.length * 100) / 200);
    expect(s.calls.filter((c) => c.method === 'LtaStager.getprogress')).toHaveLength(statusCalls - 1);
  });

  it('wait gives up at --timeout', async () => {
    const s = await double({ phaseMs: 60_000 });
    const env = stagerEnv(s);
    const id = (await lrt(['stage', 'submit', 'srm_50_sara.txt'], { ...inFixtures, env })).stdout.trim();
    const r = await lrt(['stage', 'wait', id, '--interval', '0.05', '--timeout', '0.2'], { env });
    expect(r.exitCode).toBe(EXIT.failure);
    expect(r.stderr).toMatch(new RegExp(`staging request ${id} is still "new" .*after 0\\.2 s`));
  });

  it('reads the account from ~/.stagingrc and never shows the password', async () => {
    const s = await double();
    const home = await mkdtemp(join(tmpdir(), 'lrt-stage-home-'));
    try {
      await writeFile(join(home, '.stagingrc'), `user=${s.user}\npassword=${s.password}\n`);
      const ok = await lrt(['stage', 'list'], { env: { LTA_STAGER_URL: s.url }, home });
      expect(ok.exitCode).toBe(0);
      await writeFile(join(home, '.stagingrc'), `user=${s.user}\npassword=Wr0ng-pass\n`);
      const refused = await lrt(['stage', 'list', '--json'], { env: { LTA_STAGER_URL: s.url }, home });
      expect(refused.exitCode).toBe(EXIT.auth);
      expect(refused.stderr).toMatch(
        /refused user "lofaruser" \(HTTP 401\): check the LTA account from ~\/\.stagingrc/,
      );
      expect(JSON.parse(refused.stdout).error.code).toBe('E_STAGER_AUTH');
      expect(refused.stdout + refused.stderr).not.toContain('Wr0ng-pass');
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it('explains missing credentials, bad ids and unknown requests', async () => {
    const s = await double();
    const none = await lrt(['stage', 'list'], { env: { LTA_STAGER_URL: s.url } });
    expect(none.exitCode).toBe(EXIT.invalidInput);
    expect(none.stderr).toMatch(/no LTA account for the stager/);
    expect((await lrt(['stage', 'status', 'abc'], { env: stagerEnv(s) })).exitCode).toBe(EXIT.usage);
    const unknown = await lrt(['stage', 'status', '4242'], { env: stagerEnv(s) });
    expect(unknown.exitCode).toBe(EXIT.failure);
    expect(unknown.stderr).toMatch(
      /LtaStager\.getstatus failed at the LTA stager: No staging request with ID 4242/,
    );
  });

  it('a bad stager URL is named by where it came from: the flag or LTA_STAGER_URL', async () => {
    const account = { LOFAR_LTA_USER: 'u', LOFAR_LTA_PWD: 'p' };
    const fromEnv = await lrt(['stage', 'list'], {
      env: { ...account, LTA_STAGER_URL: 'webportal.astron.nl' },
    });
    expect(fromEnv.exitCode).toBe(EXIT.invalidInput);
    expect(fromEnv.stderr).toBe('lrt: LTA_STAGER_URL webportal.astron.nl is not a valid URL\n');
    const fromFlag = await lrt(['stage', 'list', '--stager-url', 'ftp://webportal.astron.nl/x'], {
      env: account,
    });
    expect(fromFlag.stderr).toBe(
      'lrt: --stager-url must be https:// (or http:// for a local server), got ftp:\n',
    );
  });
});

describe('lrt srm state with the real gfal tools (mock plugin)', () => {
  const commands = [makeSrmStateCommand({ linkOf: mockLinkOf(MIXED) })];
  const env = { PATH: process.env.PATH };
  const states = SURLS.map((s) => MIXED(subbandOf(s)));
  const staged = states.filter((st) => typeof st === 'string' && isStaged(st)).length;

  for (const tool of ['python', 'xattr']) {
    it(`prints each state and the share staged (--tool ${tool})`, async () => {
      const r = await run(commands, ['srm', 'state', '--tool', tool, 'srm_50_sara.txt'], env);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(SURLS.length + 1);
      SURLS.forEach((surl, i) => {
        const st = states[i]!;
        expect(lines[i]).toMatch(typeof st === 'string' ? `${st}\t${surl}` : `ERROR\t${surl}\t`);
      });
      const pct = ((100 * staged) / SURLS.length).toFixed(1);
      expect(lines.at(-1)).toMatch(
        new RegExp(
          `^staged: ${staged}/${SURLS.length} \\(${pct.replace('.', '\\.')}%\\); .*; 1 not checked$`,
        ),
      );
      // SB150 could not be checked: a partial answer.
      expect(r.exitCode).toBe(EXIT.partial);
    });
  }

  it('--json gives the summary and every file', async () => {
    const r = await run(commands, ['srm', 'state', '--json', 'srm_50_sara.txt'], env);
    const out = JSON.parse(r.stdout);
    expect(out.summary).toMatchObject({ total: SURLS.length, staged, unknown: 1 });
    expect(out.files).toHaveLength(SURLS.length);
    expect(out.tool).toBe('gfal2-python');
  });

  it('says so for a site that cannot report locality', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lrt-state-'));
    try {
      await writeFile(
        join(dir, 'juelich.txt'),
        'srm://lofar-srm.fz-juelich.de:8443/pnfs/fz-juelich.de/data/lofar/ops/projects/x/L123_SB001_uv.MS.tar\n',
      );
      const r = await run(commands, ['srm', 'state', 'juelich.txt'], env, dir);
      expect(r.exitCode).toBe(EXIT.failure);
      expect(r.stderr).toMatch(
        /juelich\.txt: locality checks are not supported at juelich \(only sara, poznan .*--any-site/,
      );
      const forced = await run(commands, ['srm', 'state', '--any-site', 'juelich.txt'], env, dir);
      expect(forced.stdout).toMatch(/^NEARLINE\tsrm:\/\/lofar-srm/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('lrt srm state without a usable grid proxy (dist/lrt.js)', () => {
  const testbed = gridftpTestbed();

  it('stops before the first file with one line naming the proxy and the command that makes one', async () => {
    const r = await lrtProcess(['srm', 'state', 'srm_50_sara.txt'], {
      cwd: FIXTURES,
      env: { X509_USER_PROXY: '/nonexistent/x509up' },
    });
    expect(r.exitCode).toBe(EXIT.auth);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([
      "lrt: srm_50_sara.txt: nothing checked, no usable grid proxy: /nonexistent/x509up (X509_USER_PROXY) does not exist; make one with 'voms-proxy-init --voms lofar:/lofar/user' (or set X509_USER_PROXY), then run this again",
    ]);
    expect(r.stderr).not.toContain('CGSI');
  });

  it('a bad --tool is a usage error before the proxy is looked at', async () => {
    const r = await lrtProcess(['srm', 'state', '--tool', 'gfal-ls', 'srm_50_sara.txt'], {
      cwd: FIXTURES,
      env: { X509_USER_PROXY: '/nonexistent/x509up' },
    });
    expect(r.exitCode).toBe(EXIT.usage);
    expect(r.stderr).toBe('lrt: --tool must be auto, python or xattr, got "gfal-ls"');
  });

  it.skipIf(!testbed)('an expired proxy: says how long ago it expired', async () => {
    const r = await lrtProcess(['srm', 'state', 'srm_50_sara.txt'], {
      cwd: FIXTURES,
      env: { X509_USER_PROXY: testbed!.expiredProxy, X509_CERT_DIR: testbed!.certDir },
    });
    expect(r.exitCode).toBe(EXIT.auth);
    expect(r.stderr).toMatch(
      /^lrt: srm_50_sara\.txt: nothing checked, the grid proxy .* expired \d+ (s|min|h|d)/,
    );
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('lrt stage release', () => {
  let db: TestDatabase;
  let n = 0;
  beforeAll(async () => {
    db = await createTestDatabase('lrt_stage_cli');
  });
  afterAll(() => db.drop());

  function picasEnv(): Record<string, string> {
    return { PICAS_URL: db.baseUrl, PICAS_DB: db.name, PICAS_USR: db.user, PICAS_USR_PWD: db.password };
  }

  async function stagingTokens(s: StagerDouble) {
    const type = `cli${++n}`;
    const picas = picasFor(db);
    await ensureDesignDoc(picas, type);
    const tokens = plannedTokens(type);
    const stager = createStagerClient(
      resolveStagerSettings({
        flags: { url: s.url },
        env: { LOFAR_LTA_USER: s.user, LOFAR_LTA_PWD: s.password },
      }),
    );
    await submitAndMarkStaging(picas, type, tokens, { stager });
    return { type, ids: tokens.map((t) => t.id) };
  }

  it('--watch releases every token as its files come online', async () => {
    const s = await double({ phaseMs: 30, fileMs: 3 });
    const { type, ids } = await stagingTokens(s);
    const env = { ...picasEnv(), ...stagerEnv(s) };
    const r = await lrt(
      ['stage', 'release', '--type', type, '--watch', '--interval', '0.05', '--timeout', '20'],
      { env },
    );
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim().split('\n').sort()).toEqual([...ids].sort());
    expect((await viewIds(db, type, 'todo')).sort()).toEqual([...ids].sort());
    expect(r.stderr).toMatch(/pass \d+: released \d+, waiting 0/);
  });

  it('--watch: Ctrl-C between passes says what was released and that the same command goes on, exits 130', async () => {
    const s = await double({ phaseMs: 60_000 });
    const { type } = await stagingTokens(s);
    const passes = () => s.calls.filter((c) => c.method === 'LtaStager.getstagedurls').length;
    const res = await interrupted(
      ['stage', 'release', '--type', type, '--watch', '--interval', '0.05', '--json'],
      { ...picasEnv(), ...stagerEnv(s) },
      () => passes() >= 2,
    );
    expect(res.signal, res.stderr).toBeUndefined();
    expect(res.exitCode, res.stderr).toBe(130);
    const out = JSON.parse(res.stdout);
    expect(out).toMatchObject({ type, interrupted: true, released: [] });
    expect(out.passes).toBeGreaterThanOrEqual(1);
    expect(res.stderr).toMatch(
      new RegExp(
        `interrupted after \\d+ pass(es)?: 0 tokens released in all, ${out.waiting.length} still in staging; the same command goes on`,
      ),
    );
    expect(await viewIds(db, type, 'todo')).toEqual([]);
  });

  it('tokens create --stage, then release --watch: staging -> todo end to end', async () => {
    const s = await double({ phaseMs: 30, fileMs: 3 });
    const type = `e2e${++n}`;
    const env = { ...picasEnv(), ...stagerEnv(s) };
    const created = await lrt(
      ['tokens', 'create', '--type', type, '--srm', 'srm_50_sara.txt', '--stage', '--json'],
      {
        ...inFixtures,
        env,
      },
    );
    expect(created.exitCode).toBe(0);
    const report = JSON.parse(created.stdout);
    const ids = plannedTokens(type).map((t) => t.id);
    expect(report).toMatchObject({
      created: ids,
      requests: [[...s.requests.keys()][0]],
      surls: SURLS.length,
    });
    expect(s.calls.filter((c) => c.method === 'LtaStager.add_getid')).toHaveLength(1);
    expect(await viewIds(db, type, 'todo')).toEqual([]);

    const released = await lrt(['stage', 'release', '--type', type, '--watch', '--interval', '0.05'], {
      env,
    });
    expect(released.exitCode).toBe(0);
    expect((await viewIds(db, type, 'todo')).sort()).toEqual([...ids].sort());
  });

  it('--via gfal releases the tokens whose files are on disk', async () => {
    const s = await double({ phaseMs: 60_000 });
    const { type, ids } = await stagingTokens(s);
    const commands = makeStageCommands({ linkOf: mockLinkOf(MIXED) });
    const r = await run(commands, ['stage', 'release', '--type', type, '--via', 'gfal', '--json'], {
      ...picasEnv(),
      PATH: process.env.PATH,
    });
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout);
    // MIXED: subbands 100-119 are on disk, so the first two tokens (SB100, SB110).
    expect(out.released).toEqual(ids.slice(0, 2));
    expect(out.unknown).toEqual([{ id: ids.at(-1), reason: expect.stringMatching(/errno 2/) }]);
    expect(out.waiting.map((w: { id: string }) => w.id)).toEqual(ids.slice(2, -1));
  });
});

/** Runs dist/lrt.js ARGS, sends SIGINT (Ctrl-C) once `ready()` holds, and resolves with how it ended. */
async function interrupted(args: string[], env: Record<string, string>, ready: () => boolean) {
  const child = execa('node', [DIST_LRT, ...args], {
    cwd: FIXTURES,
    env: { HOME: '/nonexistent-home', PATH: process.env.PATH, ...env },
    extendEnv: false,
    reject: false,
  });
  for (let i = 0; i < 500 && !ready(); i++) await new Promise((r) => setTimeout(r, 20));
  expect(ready()).toBe(true);
  child.kill('SIGINT');
  return child;
}

describe('Ctrl-C during lrt stage wait and stage release --watch (dist/lrt.js)', () => {
  it('stage wait: says where the request stands and how to wait again, exits 130', async () => {
    const s = await double({ phaseMs: 60_000 });
    const [id] = await createStagerClient(
      resolveStagerSettings({
        flags: { url: s.url },
        env: { LOFAR_LTA_USER: s.user, LOFAR_LTA_PWD: s.password },
      }),
    ).stage(SURLS);
    const polls = () => s.calls.filter((c) => c.method === 'LtaStager.getstatus').length;
    const res = await interrupted(
      ['stage', 'wait', String(id), '--interval', '0.05'],
      stagerEnv(s),
      () => polls() >= 2,
    );
    expect(res.signal, res.stderr).toBeUndefined();
    expect(res.exitCode, res.stderr).toBe(130);
    expect(res.stderr).toContain(
      `interrupted: stopped waiting; request ${id} is "new" (0/${SURLS.length} files online) and goes on at the stager; 'lrt stage wait ${id}' waits again`,
    );
    // The request itself is left alone.
    expect(s.calls.map((c) => c.method)).not.toContain('LtaStager.abort');
  });
});
