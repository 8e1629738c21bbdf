import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lrt } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import { insertTokens, makeTokens, putTokenDesignDoc, readAllDocs } from '../helpers/tokens';

const TYPE = 'sksp_upd';
let t: TestDatabase;
let env: Record<string, string>;
let todo: string[];
let errors: string[];
let dir: string;

beforeEach(async () => {
  t = await createTestDatabase('lrt_updcli');
  env = { PICAS_URL: t.serverUrl, PICAS_DB: t.name };
  await putTokenDesignDoc(t, TYPE);
  const groups = [makeTokens(TYPE, 4, 'todo', { SBXloc: 'v1.tar' }, 0), makeTokens(TYPE, 2, 'error', {}, 4)];
  await insertTokens(t, groups.flat());
  todo = groups[0]!.map((d) => d._id);
  errors = groups[1]!.map((d) => d._id);
  dir = await mkdtemp(join(tmpdir(), 'lrt-updcli-'));
});
afterEach(async () => {
  await t.drop();
  await rm(dir, { recursive: true, force: true });
});

describe('lrt tokens update', () => {
  it('--dry-run shows before -> after and writes nothing; then --set/--unset change the view', async () => {
    const args = [
      'tokens',
      'update',
      '--type',
      TYPE,
      '--view',
      'todo',
      '--set',
      'SBXloc=v2.tar',
      '--unset',
      'progress',
    ];
    const dry = await lrt([...args, '--dry-run'], { env });
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toContain('would update 4 tokens of type sksp_upd in view todo');
    expect(dry.stdout).toContain('progress: 0 -> (none); SBXloc: "v1.tar" -> "v2.tar"');
    expect((await readAllDocs(t)).get(todo[0]!)?.SBXloc).toBe('v1.tar');
    const res = await lrt([...args, '--json'], { env });
    expect(res.exitCode).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ type: TYPE, changed: 4, skipped: 0, failed: [] });
    const docs = await readAllDocs(t);
    for (const id of todo) expect(docs.get(id)).toMatchObject({ SBXloc: 'v2.tar' });
    for (const id of todo) expect(docs.get(id)).not.toHaveProperty('progress');
    for (const id of errors) expect(docs.get(id)).not.toHaveProperty('SBXloc');
  });

  it('--ids and --attach; a missing id exits 6 (partial) naming it', async () => {
    writeFileSync(join(dir, 'cal.parset'), 'msin=x\n');
    const res = await lrt(
      ['tokens', 'update', '--type', TYPE, '--ids', `${errors[0]},t_${TYPE}_none`, '--attach', 'cal.parset'],
      { env, cwd: dir },
    );
    expect(res.exitCode).toBe(6);
    expect(res.stdout).toContain('update: 1 token of the 2 ids given');
    expect(res.stderr).toContain(`failed: t_${TYPE}_none: no token of type ${TYPE}`);
    // Running again cannot make an unknown id appear: the note says to check it instead.
    expect(res.stderr).toContain('1 id given named no token: running the command again does not change that');
    expect(res.stderr).not.toContain('running the command again retries them');
    expect(Object.keys((await readAllDocs(t)).get(errors[0]!)?._attachments ?? {})).toEqual(['cal.parset']);
  });

  it('usage errors exit 2 and change nothing', async () => {
    for (const args of [
      ['--set', 'status=todo'],
      ['--set', 'lock=1'],
      [],
      ['--view', 'todo', '--ids', 'a', '--set', 'x=1'],
    ]) {
      const res = await lrt(['tokens', 'update', '--type', TYPE, ...args], { env });
      expect(res.exitCode, args.join(' ')).toBe(2);
    }
    const status = await lrt(['tokens', 'update', '--type', TYPE, '--set', 'status=todo'], { env });
    expect(status.stderr).toContain('lrt tokens set-status');
  });
});
