import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileProblem, fileReadError, outputFolderProblem } from '../../src/core';

/** The error a real read of `path` rejects with. */
const readError = (path: string) => readFile(path).catch((err: unknown) => err);

describe('file problems in words', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lrt-fileproblems-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names what the operating system answered, never the bare errno code', async () => {
    expect(fileProblem(await readError(join(dir, 'absent')))).toBe('no such file');
    expect(fileProblem(await readError(join(dir, 'absent')), 'write')).toBe('its folder does not exist');
    expect(fileProblem(await readError(dir))).toBe('it is a directory');
    await writeFile(join(dir, 'plain'), 'x');
    expect(fileProblem(await readError(join(dir, 'plain', 'below')))).toBe(
      'a part of its path is not a folder',
    );
    await symlink(join(dir, 'loop-b'), join(dir, 'loop-a'));
    await symlink(join(dir, 'loop-a'), join(dir, 'loop-b'));
    expect(fileProblem(await readError(join(dir, 'loop-a')))).toBe('its symbolic links point in a loop');
  });

  it('a read error: E_NOT_FOUND for a missing file, else E_IO; the cause kept', async () => {
    const missing = await readError(join(dir, 'absent'));
    const gone = fileReadError('--attach absent: cannot read absent', missing);
    expect([gone.code, gone.message, gone.cause]).toEqual([
      'E_NOT_FOUND',
      '--attach absent: cannot read absent: no such file',
      missing,
    ]);
    const folder = fileReadError('cannot read it', await readError(dir));
    expect([folder.code, folder.message]).toEqual(['E_IO', 'cannot read it: it is a directory']);
  });

  it('an output folder: fine when it can be made, else the first part of the path that is in the way', async () => {
    expect(await outputFolderProblem(join(dir, 'new', 'deeper'))).toBeUndefined();
    await mkdir(join(dir, 'exists'));
    expect(await outputFolderProblem(join(dir, 'exists'))).toBeUndefined();
    expect(await outputFolderProblem(join(dir, 'plain', 'out'))).toBe(
      `${join(dir, 'plain')} is a file, not a folder`,
    );
    expect(await outputFolderProblem(join(dir, 'loop-a', 'out'))).toBe(
      `${join(dir, 'loop-a', 'out')}: its symbolic links point in a loop`,
    );
  });
});
