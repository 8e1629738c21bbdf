import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAttachment } from '../../src/picas/attachments';
import { openPicas, type PicasDb } from '../../src/picas/client';
import { readDesignDoc } from '../../src/picas/designDocStore';
import { getToken } from '../../src/picas/tokens';
import { lrt, lrtProcess } from '../helpers/cli';
import { createTestDatabase, type TestDatabase, trackDatabase } from '../helpers/couch';

const FIXTURES = resolve(__dirname, '../fixtures/picas');
const REPO = resolve(__dirname, '../..');
const expected = JSON.parse(readFileSync(join(FIXTURES, 'srmlist_expected.json'), 'utf8'))[
  'srm_50_sara.txt'
] as {
  obsid: string;
  slices: Record<string, Record<string, string[]>>;
};
const config = JSON.parse(readFileSync(join(FIXTURES, 'cal_pref3.json'), 'utf8'));

function envFor(db: TestDatabase, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    PICAS_URL: db.baseUrl,
    PICAS_DB: db.name,
    PICAS_USR: db.user,
    PICAS_USR_PWD: db.password,
    ...overrides,
  };
}

async function tokenRevs(picas: PicasDb): Promise<Map<string, string>> {
  const all = await picas.db.list();
  return new Map(all.rows.filter((r) => !r.id.startsWith('_design/')).map((r) => [r.id, r.value.rev]));
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

describe('lrt tokens create', () => {
  let testDb: TestDatabase;
  let picas: PicasDb;
  let dir: string;
  beforeAll(async () => {
    testDb = await createTestDatabase('lrt_cli_create');
    picas = openPicas({
      url: testDb.baseUrl,
      database: testDb.name,
      user: testDb.user,
      password: testDb.password,
    });
    dir = mkdtempSync(join(tmpdir(), 'lrt-cli-create-'));
  });
  afterAll(async () => {
    await testDb?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const example = ['tokens', 'create', '--type', 'demo', '--srm', 'srm_50_sara.txt', '--per-token', '10'];
  const slices = expected.slices['10']!;
  const ids = Object.keys(slices).map((k) => `t_demo_${expected.obsid}_SB${k}`);

  it('makes one token per chunk of 10 subbands, each with its srm.txt chunk, plus the design doc', async () => {
    const res = await lrt([...example, '--config', 'cal_pref3.json', '--json'], {
      env: envFor(testDb),
      cwd: FIXTURES,
    });
    expect(res.stderr).not.toContain('lrt:');
    expect(res.exitCode).toBe(0);
    // cal_pref3.json expects a parset attachment that the command line does not provide.
    const parset = config.Token.variables._attachments.$PARSET;
    expect(res.stderr).toContain(
      `warning: the config names attachment "${parset}" but no --attach provides it; add --attach PATH/TO/FILE:${parset}`,
    );
    const out = JSON.parse(res.stdout);
    expect(out.created.sort()).toEqual(ids);
    expect(out).toMatchObject({ existing: [], failed: [], type: 'demo', database: testDb.name });
    expect(ids).toHaveLength(6);
    for (const [key, surls] of Object.entries(slices)) {
      const id = `t_demo_${expected.obsid}_SB${key}`;
      const token = await getToken(picas, id);
      expect(token).toMatchObject({
        type: 'demo',
        lock: 0,
        done: 0,
        extra: { STARTSB: key, OBSID: expected.obsid },
      });
      expect((await getAttachment(picas, id, 'srm.txt')).toString('utf8')).toBe(
        surls.map((s) => `${s}\n`).join(''),
      );
    }
    const design = await readDesignDoc(picas, 'demo');
    expect(Object.keys(design?.views ?? {})).toContain('todo');
    const todo = await picas.db.view('demo', 'todo');
    expect(todo.rows.map((r) => r.id).sort()).toEqual(ids);
  });

  it('names the --attach to add, and is quiet once it is given (a real process, dry run)', async () => {
    const parset = config.Token.variables._attachments.$PARSET as string;
    const here = mkdtempSync(join(tmpdir(), 'lrt-attach-'));
    try {
      writeFileSync(join(here, parset), 'msin=...\n');
      for (const f of ['srm_50_sara.txt', 'cal_pref3.json'])
        writeFileSync(join(here, f), readFileSync(join(FIXTURES, f)));
      const args = [...example, '--config', 'cal_pref3.json', '--dry-run'];
      const hint = await lrtProcess(args, { cwd: here });
      expect(hint.exitCode).toBe(0);
      // The file is right here: the flag to add is exactly this.
      expect(hint.stderr).toMatch(
        new RegExp(`no --attach provides it; add --attach ${parset.replace(/\./g, '\\.')}$`, 'm'),
      );
      const given = await lrtProcess([...args, '--attach', parset], { cwd: here });
      expect(given.stderr).not.toContain('warning: the config names attachment');
    } finally {
      rmSync(here, { recursive: true, force: true });
    }
  });

  it('finds the SB<digits>. subband form of calibrator solutions without flags', async () => {
    const res = await lrtProcess(
      [
        'tokens',
        'create',
        '--type',
        'cal',
        '--srm',
        join(REPO, 'test/fixtures/srm/cal1_srm_test.txt'),
        '--per-token',
        '100',
        '--dry-run',
        '--json',
      ],
      {},
    );
    expect(res.exitCode, res.stderr).toBe(0);
    expect(
      JSON.parse(res.stdout)
        .tokens.map((t: { id: string }) => t.id)
        .sort(),
    ).toEqual(['t_cal_L261539_SB000', 't_cal_L261539_SB100', 't_cal_L261539_SB200', 't_cal_L261539_SB300']);
  });

  it('carries the config fields into every token', async () => {
    const token = await getToken(picas, ids[0]!);
    expect(token.status).toBe(config.Token.status);
    expect(token.upload).toEqual(config.Token.upload);
    expect(token.extra.PIPELINE_STEP).toBe(config.Job.variables.PIPELINE_STEP);
    expect(token.extra.RESULTS_DIR).toBe(config.Job.variables.RESULTS_DIR);
    // The SURL list's observation, not the config's placeholder OBSID.
    expect(config.Job.variables.OBSID).not.toBe(expected.obsid);
    expect(token.extra.OBSID).toBe(expected.obsid);
    const configJson = token['config.json'] as { variables: Record<string, unknown> };
    expect(configJson.variables._token_keys).toEqual(config.Token.variables._token_keys);
    expect(configJson.variables._attachments).toEqual(config.Token.variables._attachments);
  });

  it('tokens from a SURL list are staged in, a config upload section is staged out, and the command says so', async () => {
    const token = await getToken(picas, ids[0]!);
    expect(token.stage_in).toBe(true);
    expect(token.stage_out).toBe(true);
    const res = await lrt([...example, '--type', 'moved', '--config', 'cal_pref3.json', '--json'], {
      env: envFor(testDb),
      cwd: FIXTURES,
    });
    expect(res.exitCode).toBe(0);
    const { dataMovement } = JSON.parse(res.stdout);
    expect(dataMovement.stageIn).toEqual({ tokens: 6, files: 51, from: 'srm.txt', schemes: ['srm'] });
    expect(dataMovement.stageOut).toEqual({
      tokens: 6,
      to: 'Output/ as $RESULTS_DIR/CI_pref3_cal_$STARTSB_$DATE.tar',
    });
    const text = await lrt([...example, '--type', 'moved2', '--config', 'cal_pref3.json'], {
      env: envFor(testDb),
      cwd: FIXTURES,
    });
    expect(text.stdout).toContain('the pilot stages in 51 file(s) for 6 token(s)');
    expect(text.stdout).toContain('the pilot stages out the results of 6 token(s)');

    // Run again: every token exists, none is created. The summary must not claim the pilots of
    // these staged tokens move nothing ("no stage-in: the payload fetches its own inputs").
    const again = await lrt([...example, '--type', 'moved', '--config', 'cal_pref3.json', '--json'], {
      env: envFor(testDb),
      cwd: FIXTURES,
    });
    expect(again.exitCode).toBe(0);
    const rerun = JSON.parse(again.stdout);
    expect(rerun.counts).toMatchObject({ created: 0, existing: 6 });
    expect(rerun.dataMovement).toEqual({ notes: [] });
  });

  it('--payload-moves-data, --payload-moves-inputs/results and a field set by hand turn the defaults off', async () => {
    const run = (type: string, ...extra: string[]) =>
      lrt([...example, '--type', type, '--config', 'cal_pref3.json', '--json', ...extra], {
        env: envFor(testDb),
        cwd: FIXTURES,
      });
    const firstOf = (type: string) => ids[0]!.replace('t_demo_', `t_${type}_`);
    const none = await run('selfmove', '--payload-moves-data');
    expect(none.exitCode).toBe(0);
    expect(JSON.parse(none.stdout).dataMovement.notes).toEqual([
      'no stage-in: the payload fetches its own inputs',
      'no stage-out: the payload uploads its results itself (from the token field upload)',
    ]);
    const plain = await getToken(picas, firstOf('selfmove'));
    expect(plain.stage_in).toBeUndefined();
    expect(plain.stage_out).toBeUndefined();
    await run('inonly', '--payload-moves-results');
    expect(await getToken(picas, firstOf('inonly'))).toMatchObject({ stage_in: true });
    expect((await getToken(picas, firstOf('inonly'))).stage_out).toBeUndefined();
    await run('outonly', '--payload-moves-inputs');
    expect((await getToken(picas, firstOf('outonly'))).stage_in).toBeUndefined();
    await run('byhand', '--set', 'stage_in={"concurrency":2}', '--set', 'stage_out=false');
    expect(await getToken(picas, firstOf('byhand'))).toMatchObject({
      stage_in: { concurrency: 2 },
      stage_out: false,
    });
  });

  it('a typo in a config section fails naming the file and the close name, writes nothing; --lenient warns', async () => {
    const typo = structuredClone(config);
    typo.Tokne = typo.Token;
    delete typo.Token;
    writeFileSync(join(dir, 'typo.json'), JSON.stringify(typo));
    writeFileSync(join(dir, 'srm_50_sara.txt'), readFileSync(join(FIXTURES, 'srm_50_sara.txt')));
    const args = ['tokens', 'create', '--type', 'typo', '--srm', 'srm_50_sara.txt', '--config', 'typo.json'];
    const strict = await lrt(args, { env: envFor(testDb), cwd: dir });
    expect(strict.exitCode).not.toBe(0);
    expect(strict.stderr).toContain(
      `${join(dir, 'typo.json')}: unknown section "Tokne": did you mean "Token"?`,
    );
    expect((await picas.db.list({ startkey: 't_typo_', endkey: 't_typo_\ufff0' })).rows).toEqual([]);
    const lenient = await lrt([...args, '--lenient'], { env: envFor(testDb), cwd: dir });
    expect(lenient.exitCode).toBe(0);
    expect(lenient.stderr).toContain('warning: ');
    expect(lenient.stderr).toContain('unknown section "Tokne" ignored (did you mean "Token"?)');
    expect(lenient.stdout).toContain('6 created');
  });

  it('refuses slices overlapping existing tokens of the type, naming them; --force creates them', async () => {
    const before = await tokenRevs(picas);
    const res = await lrt([...example, '--per-token', '5'], { env: envFor(testDb), cwd: FIXTURES });
    expect(res.exitCode).not.toBe(0);
    const sb105 = ids[0]!.replace(/SB\d+$/, 'SB105');
    expect(res.stderr).toContain(`${sb105} would share subbands 105,106,107,108,109 with existing ${ids[0]}`);
    expect(res.stderr).toContain('--force');
    expect(await tokenRevs(picas)).toEqual(before);
    const forced = await lrt([...example, '--per-token', '5', '--force', '--json'], {
      env: envFor(testDb),
      cwd: FIXTURES,
    });
    expect(forced.exitCode).toBe(0);
    expect(JSON.parse(forced.stdout).created).toContain(sb105);
  });

  it('takes the token type from the config when --type is absent; --set values read as JSON', async () => {
    writeFileSync(join(dir, 'typed.json'), JSON.stringify({ Token: { type: 'fromcfg', status: 'queued' } }));
    const res = await lrt(
      ['tokens', 'create', '--config', 'typed.json', '--id-suffix', 'a', '--set', 'manual_int=0'],
      {
        env: envFor(testDb),
        cwd: dir,
      },
    );
    expect(res.stderr).toBe('');
    expect(res.exitCode).toBe(0);
    expect(await getToken(picas, 't_fromcfg_a')).toMatchObject({
      type: 'fromcfg',
      status: 'queued',
      extra: { manual_int: 0 },
    });
    const locked = await lrt(['tokens', 'create', '--type', 'demo', '--id-suffix', 'b', '--set', 'lock=1'], {
      env: envFor(testDb),
    });
    expect(locked.exitCode).toBe(2);
  });

  it('a re-run reports the tokens as existing and changes nothing', async () => {
    const before = await tokenRevs(picas);
    const res = await lrt([...example, '--config', 'cal_pref3.json'], { env: envFor(testDb), cwd: FIXTURES });
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain('0 created, 6 already existed, 0 failed');
    expect(await tokenRevs(picas)).toEqual(before);
  });

  it('--set adds a field to every token; --attach adds a file to every token', async () => {
    const parset = join(dir, 'my.parset');
    writeFileSync(parset, 'msin=foo\n');
    const res = await lrt(
      [
        ...example,
        '--type',
        'demo2',
        '--set',
        'PIPELINE=tutorial1',
        '--attach',
        `${parset}:Pre-Facet.parset`,
        '--json',
      ],
      { env: envFor(testDb), cwd: FIXTURES },
    );
    expect(res.exitCode).toBe(0);
    const created: string[] = JSON.parse(res.stdout).created;
    expect(created).toHaveLength(6);
    for (const id of created) {
      expect((await getToken(picas, id)).extra.PIPELINE).toBe('tutorial1');
      expect((await getAttachment(picas, id, 'Pre-Facet.parset')).toString()).toBe('msin=foo\n');
    }
  });

  it('--id-suffix creates one manual token t_<type>_<suffix>', async () => {
    const res = await lrt(
      [
        'tokens',
        'create',
        '--type',
        'demo',
        '--id-suffix',
        'manual',
        '--set',
        'manual_key=manual_value',
        '--attach',
        'srm_50_sara.txt:srm_at_token_create.txt',
      ],
      { env: envFor(testDb), cwd: FIXTURES },
    );
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain('1 created');
    expect((await getToken(picas, 't_demo_manual')).extra.manual_key).toBe('manual_value');
    expect(await getAttachment(picas, 't_demo_manual', 'srm_at_token_create.txt')).toEqual(
      readFileSync(join(FIXTURES, 'srm_50_sara.txt')),
    );
  });

  it('--dry-run lists the tokens and writes nothing, not even the database', async () => {
    const name = trackDatabase(`${testDb.name}_dry`);
    const res = await lrt([...example, '--dry-run', '--json'], {
      env: envFor(testDb, { PICAS_DB: name }),
      cwd: FIXTURES,
    });
    expect(res.exitCode).toBe(0);
    const out = JSON.parse(res.stdout);
    expect(out.tokens.map((t: { id: string }) => t.id)).toEqual(ids);
    expect(out.tokens[0].attachments[0].name).toBe('srm.txt');
    const info = await fetch(`${testDb.baseUrl}/${name}`, {
      headers: {
        authorization: `Basic ${Buffer.from(`${testDb.user}:${testDb.password}`).toString('base64')}`,
      },
    });
    expect(info.status).toBe(404);
  });

  it('creates a missing database first', async () => {
    const name = trackDatabase(`${testDb.name}_fresh`);
    const fresh = openPicas({ ...picas.settings, database: name });
    const res = await lrt(example, { env: envFor(testDb, { PICAS_DB: name }), cwd: FIXTURES });
    expect(res.exitCode).toBe(0);
    expect(res.stderr).toContain(`created database ${name}`);
    expect((await tokenRevs(fresh)).size).toBe(6);
  });

  it('a wrong password exits 4 naming the user and never the password', async () => {
    const password = 'Wrong-Pass-9876';
    const res = await lrt([...example, '--json'], {
      env: envFor(testDb, { PICAS_USR_PWD: password }),
      cwd: FIXTURES,
    });
    expect(res.exitCode).toBe(4);
    expect(res.stderr).toContain(`"${testDb.user}"`);
    expect(res.stderr).toContain('401');
    expect(res.stdout + res.stderr).not.toContain(password);
    expect(JSON.parse(res.stdout).error.code).toBe('E_DB_AUTH');
  });

  it('a server that is down exits 3 naming the URL without the password', async () => {
    const port = await closedPort();
    const password = 'Secret-Down-5555';
    const url = `http://someone:${password}@127.0.0.1:${port}`;
    const res = await lrt(example, { env: { PICAS_URL: url, PICAS_DB: 'anything' }, cwd: FIXTURES });
    expect(res.exitCode).toBe(3);
    expect(res.stderr).toContain(`http://127.0.0.1:${port}`);
    // The cause in the network's words, not nano's wrapping of it.
    expect(res.stderr).toContain(`: connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(res.stderr).not.toContain('error happened in your connection');
    expect(res.stderr).not.toContain(password);

    // A port Node's fetch refuses to connect to is said to be one, not just "bad port".
    const barred = await lrt(example, {
      env: { PICAS_URL: 'http://127.0.0.1:6000', PICAS_DB: 'anything' },
      cwd: FIXTURES,
    });
    expect(barred.exitCode).toBe(3);
    expect(barred.stderr).toContain("bad port: Node's fetch refuses this port");
  });

  it('usage errors exit 2; a bad SURL list exits 7 naming the file', async () => {
    const env = envFor(testDb);
    expect(
      (await lrt(['tokens', 'create', '--srm', 'srm_50_sara.txt'], { env, cwd: FIXTURES })).exitCode,
    ).toBe(2);
    expect((await lrt(['tokens', 'create', '--type', 'demo'], { env, cwd: FIXTURES })).exitCode).toBe(2);
    const both = await lrt([...example, '--id-suffix', 'x'], { env, cwd: FIXTURES });
    expect(both.exitCode).toBe(2);
    expect(
      (await lrt(['tokens', 'create', '--type', 'bad type', '--id-suffix', 'x'], { env })).exitCode,
    ).toBe(2);
    writeFileSync(join(dir, 'bad.txt'), 'not a surl\n');
    const bad = await lrt(['tokens', 'create', '--type', 'demo', '--srm', 'bad.txt'], { env, cwd: dir });
    expect(bad.exitCode).toBe(7);
    expect(bad.stderr).toContain('bad.txt');
  });
});

describe('lrt tokens show / attach / get-attachment', () => {
  let testDb: TestDatabase;
  let dir: string;
  const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x0a, 0x80, 0xc3, 0x28, 0x0d, 0x0a, 0x41]);
  beforeAll(async () => {
    testDb = await createTestDatabase('lrt_cli_attach');
    dir = mkdtempSync(join(tmpdir(), 'lrt-cli-attach-'));
    writeFileSync(join(dir, 'blob.txt'), bytes);
    const res = await lrt(['tokens', 'create', '--type', 'att', '--id-suffix', 'one'], {
      env: envFor(testDb),
    });
    expect(res.exitCode).toBe(0);
  });
  afterAll(async () => {
    await testDb?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('attaches a file, shows it in the token, and writes its bytes back to a file verbatim', async () => {
    const env = envFor(testDb);
    const attached = await lrt(
      ['tokens', 'attach', 't_att_one', 'blob.txt', '--name', 'data.txt', '--json'],
      { env, cwd: dir },
    );
    expect(attached.exitCode).toBe(0);
    expect(JSON.parse(attached.stdout)).toMatchObject({
      token: 't_att_one',
      name: 'data.txt',
      replaced: false,
    });

    const shown = await lrt(['tokens', 'show', 't_att_one', '--json'], { env });
    const doc = JSON.parse(shown.stdout);
    expect(doc._attachments['data.txt']).toMatchObject({ content_type: 'text/plain', length: bytes.length });

    const got = await lrt(['tokens', 'get-attachment', 't_att_one', 'data.txt', '-o', 'back.bin'], {
      env,
      cwd: dir,
    });
    expect(got.exitCode).toBe(0);
    expect(readFileSync(join(dir, 'back.bin'))).toEqual(bytes);

    const json = await lrt(['tokens', 'get-attachment', 't_att_one', 'data.txt', '--json'], { env });
    expect(Buffer.from(JSON.parse(json.stdout).base64, 'base64')).toEqual(bytes);
  });

  it('writes attachment bytes verbatim to stdout of a real process', async () => {
    const res = await execa(
      'node',
      // The built bundle (npm test builds dist/ first): what users run.
      ['dist/lrt.js', 'tokens', 'get-attachment', 't_att_one', 'data.txt'],
      {
        cwd: REPO,
        env: { ...envFor(testDb), HOME: dir, PATH: process.env.PATH },
        extendEnv: false,
        encoding: 'buffer',
        reject: false,
      },
    );
    expect(res.exitCode).toBe(0);
    expect(Buffer.from(res.stdout)).toEqual(bytes);
  });

  it('missing tokens and attachments exit non-zero with their names', async () => {
    const env = envFor(testDb);
    const noToken = await lrt(['tokens', 'show', 't_att_nope'], { env });
    expect(noToken.exitCode).toBe(5);
    expect(noToken.stderr).toContain('t_att_nope');
    const noAtt = await lrt(['tokens', 'get-attachment', 't_att_one', 'nope.txt'], { env });
    expect(noAtt.exitCode).not.toBe(0);
    expect(noAtt.stderr).toContain('nope.txt');
    expect(noAtt.stderr).toContain('t_att_one');
  });
});
