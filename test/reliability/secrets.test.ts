import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAttachment } from '../../src/picas/attachments';
import { logAttachmentName } from '../../src/picas/logNames';
import { lrt, lrtProcess } from '../helpers/cli';
import { DIST_PILOT, waitFor } from '../helpers/pilotWorld';
import {
  createSecretsWorld,
  everythingStored,
  filesUnder,
  leaks,
  needles,
  PASSWORD,
  type SecretsWorld,
} from './secretsRun';

/**
 * A full run with a known password and a proxy whose content is a marker: several tokens, a
 * failing one, a stage-in through (a fake) globus-url-copy, one stopped by SIGTERM and one run by
 * the legacy `pilot.js DB USER PWD TYPE` form. Then every place the password or the proxy could
 * end up is searched: log files, pilot output, every stored revision of every token with its
 * attachments, the job dirs, and the command lines and environments of what the pilot started.
 */

let world: SecretsWorld;
const outputs: [string, Buffer][] = [];
const SEARCH = needles('admin');

function pilot(args: string[], env: Record<string, string>) {
  return execa('node', [DIST_PILOT, ...args], { env, extendEnv: false, reject: false, all: true });
}

beforeAll(async () => {
  world = await createSecretsWorld({
    secrets: [
      { id: 't_ok_1' },
      {
        id: 't_ok_2',
        fields: { 'config.json': { variables: { _token_keys: { $OBSID: 'OBSID' } } }, OBSID: 'L1' },
      },
      { id: 't_fail' },
      { id: 't_slow' },
      {
        id: 't_stagein',
        fields: { stage_in: { from: ['gsiftp://gridftp.example.org:2811/pnfs/lofar/a.dat'] } },
      },
    ],
    secretslegacy: [{ id: 't_legacy' }],
    secretsexport: [{ id: 't_exported' }],
  });
}, 60_000);

afterAll(async () => {
  await world?.close();
});

describe('secrets after a full pilot run', () => {
  it('neither the password nor the proxy content reaches logs, tokens, attachments, job dirs or child processes', async () => {
    const work = join(world.dir, 'work');
    const common = ['--workdir', work, '--grace', '2'];
    // 1. one token stopped by SIGTERM in the middle of its payload
    const stopped = pilot(
      ['--type', 'secrets', '--token', 't_slow', '--log', join(world.dir, 'a.log'), ...common],
      world.env,
    );
    const pidFile = join(world.records, 'slow.pid');
    await waitFor(async () => (existsSync(pidFile) ? true : undefined), 30_000, 'the slow payload');
    stopped.kill('SIGTERM');
    const a = await stopped;
    expect(a.exitCode, a.all).toBe(143);
    // 2. the rest, logs on stderr, job dirs kept
    const b = await pilot(['--type', 'secrets', '--json', '--keep-jobdir', ...common], world.env);
    expect(b.exitCode, b.all).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ claimed: 5, done: 4, failed: 1 });
    // 3. the legacy form: the password is an argument of the pilot itself
    const { PICAS_URL: _url, ...noUrl } = world.env;
    const c = await pilot(
      [
        'secrets_db',
        'admin',
        PASSWORD,
        'secretslegacy',
        '--url',
        world.server.url,
        '--log',
        join(world.dir, 'c.log'),
        ...common,
      ],
      noUrl,
    );
    expect(c.exitCode, c.all).toBe(0);
    for (const [name, run] of Object.entries({ a, b, c }))
      outputs.push([`pilot ${name} output`, Buffer.from(run.all ?? '')]);

    // control: with --export-credentials the payload does get the password, and the search finds it
    const d = await pilot(
      ['--type', 'secretsexport', '--export-credentials', '--workdir', join(world.dir, 'work-export')],
      world.env,
    );
    expect(d.exitCode, d.all).toBe(0);
    const exported = await getAttachment(world.picas, 't_exported', logAttachmentName(1, 'stdout'));
    expect(exported.toString()).toContain(`PICAS_USR_PWD=${PASSWORD}`);
    expect(leaks([['exported', exported]], SEARCH)).toContain(`exported: ${PASSWORD}`);

    const stored = (await everythingStored(world.picas)).filter(
      ([where]) => !where.startsWith('t_exported@'),
    );
    const files = [
      ...(await filesUnder(work)),
      ...(await filesUnder(world.records)).filter(([path]) => !path.endsWith('payload-t_exported.txt')),
      [join(world.dir, 'a.log'), await readFile(join(world.dir, 'a.log'))],
      [join(world.dir, 'c.log'), await readFile(join(world.dir, 'c.log'))],
    ] as [string, Buffer][];
    expect(leaks([...stored, ...files, ...outputs], SEARCH)).toEqual([]);

    // the search covered what it claims to: every payload, the tool, the kept job dirs, the logs
    const record = (name: string) => readFile(join(world.records, name), 'utf8');
    for (const id of ['t_ok_1', 't_ok_2', 't_fail', 't_slow', 't_stagein', 't_legacy']) {
      const text = await record(`payload-${id}.txt`);
      expect(text, id).toContain(`X509_USER_PROXY=${world.proxy}`);
      expect(text, id).not.toMatch(/^PICAS_(USR_PWD|URL)=/m);
    }
    expect(await record('payload-t_legacy.txt')).toMatch(/pilot\.js secrets_db admin \*\*\* secretslegacy/);
    const tools = files.filter(([path]) => /globus-url-copy-\d+\.txt$/.test(path));
    expect(tools.length).toBeGreaterThan(0);
    for (const [, text] of tools) {
      expect(text.toString()).toContain(`-cred ${world.proxy}`);
      expect(text.toString()).not.toMatch(/^PICAS_USR_PWD=/m);
    }
    expect(stored.some(([where]) => where.endsWith('attempt-1.pilot.log'))).toBe(true);
    expect(files.some(([path]) => path.endsWith('stdout.log'))).toBe(true);
    expect((await world.picas.db.get('t_slow')).scrub_count).toBe(1);
  }, 180_000);
});

describe('secrets and the preflight', () => {
  it('lrt doctor and pilot --check start their probes without the password', async () => {
    const before = (await readdir(world.records)).filter((f) => f.startsWith('grid-proxy-info-')).length;
    const doctor = await lrtProcess(['doctor', '--type', 'secrets', '--skip', 'disk'], { env: world.env });
    const check = await pilot(['--type', 'secrets', '--check', '--walltime', '600'], world.env);
    for (const run of [doctor, check]) {
      expect(run.stdout).toMatch(/^ok\s+proxy\s+.*valid for 1 h/m);
      expect(leaks([['out', Buffer.from(run.stdout + run.stderr)]], SEARCH)).toEqual([]);
    }
    const records = (await filesUnder(world.records)).filter(([path]) => path.includes('grid-proxy-info-'));
    expect(records.length).toBe(before + 2);
    expect(leaks(records, SEARCH)).toEqual([]);
  });
});

describe('secrets in lrt output', () => {
  const run = (args: string[], env: Record<string, string>) => lrt(args, { env, home: world.dir });
  const clean = (result: { stdout: string; stderr: string }) =>
    leaks(
      [
        ['stdout', Buffer.from(result.stdout)],
        ['stderr', Buffer.from(result.stderr)],
      ],
      SEARCH,
    );

  it('--json results and the usual commands never print the password', async () => {
    for (const args of [
      // NDJSON: one line per token, so a view that holds tokens (todo is empty by now)
      ['tokens', 'list', '--type', 'secrets', '--view', 'done', '--json'],
      ['tokens', 'show', 't_ok_1', '--json'],
      ['tokens', 'overview', '--type', 'secrets', '--json'],
      ['views', 'list', '--type', 'secrets', '--json'],
      ['doctor', '--type', 'secrets', '--json', '--skip', 'disk'],
      ['doctor', '--type', 'secrets'],
    ]) {
      const result = await run(args, world.env);
      expect(result.stdout.length, args.join(' ')).toBeGreaterThan(0);
      expect(clean(result), args.join(' ')).toEqual([]);
    }
  });

  it('error paths (wrong database, bad URLs, unreachable server, wrong password) never print it', async () => {
    const port = new URL(world.server.url).port;
    const cases: [string, Record<string, string>][] = [
      ['missing database', { ...world.env, PICAS_DB: 'no_such_db' }],
      ['invalid database name', { ...world.env, PICAS_DB: 'Bad Name' }],
      ['unreachable server', { ...world.env, PICAS_URL: `http://admin:${PASSWORD}@127.0.0.1:1/` }],
      ['password with a slash', { ...world.env, PICAS_URL: `http://admin:${PASSWORD}/x@127.0.0.1:${port}/` }],
      ['no scheme separator', { ...world.env, PICAS_URL: `http//admin:${PASSWORD}@127.0.0.1:${port}` }],
      [
        'password in PICAS_USR_PWD, wrong',
        { ...world.env, PICAS_URL: world.server.url, PICAS_USR: 'admin', PICAS_USR_PWD: `${PASSWORD}-wrong` },
      ],
    ];
    for (const [name, env] of cases) {
      for (const json of [[], ['--json']]) {
        const result = await run(['tokens', 'list', '--type', 'secrets', ...json], env);
        expect(result.exitCode, name).not.toBe(0);
        expect(result.stderr.length, name).toBeGreaterThan(0);
        expect(clean(result), `${name} ${json.join('')}`).toEqual([]);
      }
    }
    // the real processes too: lrt and the pilot, as a job would start them
    const slash = { ...world.env, PICAS_URL: `http://admin:${PASSWORD}/x@127.0.0.1:${port}/` };
    const lrtRun = await lrtProcess(['tokens', 'list', '--type', 'secrets', '--json'], { env: slash });
    expect(lrtRun.exitCode).toBe(7);
    expect(clean(lrtRun)).toEqual([]);
    const pilotRun = await pilot(['--type', 'secrets'], slash);
    expect(pilotRun.exitCode).toBe(2);
    expect(clean({ stdout: pilotRun.stdout, stderr: pilotRun.stderr })).toEqual([]);
  });
});
