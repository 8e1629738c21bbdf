import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lrt } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';

/*
 * A local file that is not there, as a user mistypes it: the error names the file and says why in
 * words (not ENOENT), the exit code is "not found" (5) as for `tokens create --attach`, and the
 * token is left as it was.
 */

let t: TestDatabase;
let env: Record<string, string>;
let dir: string;

beforeAll(async () => {
  t = await createTestDatabase('lrt_attach_files');
  env = { PICAS_URL: t.serverUrl, PICAS_DB: t.name };
  dir = await mkdtemp(join(tmpdir(), 'lrt-attach-files-'));
  const created = await lrt(['tokens', 'create', '--type', 'files', '--id-suffix', 'a'], { env });
  expect(created.exitCode).toBe(0);
});
afterAll(() => t.drop());

const revOf = async (id: string) => JSON.parse((await lrt(['tokens', 'show', id], { env })).stdout)._rev;

describe('files that are not there', () => {
  it('tokens attach: exit 5, "no such file", the token unchanged', async () => {
    const before = await revOf('t_files_a');
    const missing = join(dir, 'step.parset');
    const res = await lrt(['tokens', 'attach', 't_files_a', missing], { env });
    expect(res.exitCode).toBe(5);
    expect(res.stderr).toContain(
      `cannot read ${missing} to attach as step.parset to token t_files_a: no such file`,
    );
    expect(res.stderr).not.toContain('ENOENT');
    expect(await revOf('t_files_a')).toBe(before);
    const folder = await lrt(['tokens', 'attach', 't_files_a', dir], { env });
    expect(folder.stderr).toContain(': it is a directory');
  });

  it('tokens create --attach and tokens get-attachment -o say why in words', async () => {
    const missing = join(dir, 'other.parset');
    const create = await lrt(
      ['tokens', 'create', '--type', 'files', '--id-suffix', 'b', '--attach', missing],
      { env },
    );
    expect(create.exitCode).toBe(5);
    expect(create.stderr).toContain(`--attach ${missing}: cannot read ${missing}: no such file`);
    const out = join(dir, 'no-folder', 'x.txt');
    const get = await lrt(['tokens', 'get-attachment', 't_files_a', 'x', '-o', out], { env });
    expect(get.exitCode).toBe(5);
    await lrt(['tokens', 'attach', 't_files_a', '--name', 'x', join(__dirname, 'attachFiles.test.ts')], {
      env,
    });
    const write = await lrt(['tokens', 'get-attachment', 't_files_a', 'x', '-o', out], { env });
    expect(write.exitCode).toBe(1);
    expect(write.stderr).toContain(`cannot write ${out}: its folder does not exist`);
  });
});
