import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileProblem, LrtError } from '../core';

async function readOptional(path: string, shownAs: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new LrtError('E_IO', `cannot read ${shownAs}: ${fileProblem(err)}`, { cause: err });
  }
}

/** The texts of `~/.awe/Environment.cfg` and `~/.stagingrc` under `home`, when they exist. */
export async function readCredentialFiles(
  home: string,
): Promise<{ environmentCfg?: string; stagingrc?: string }> {
  const [environmentCfg, stagingrc] = await Promise.all([
    readOptional(join(home, '.awe', 'Environment.cfg'), '~/.awe/Environment.cfg'),
    readOptional(join(home, '.stagingrc'), '~/.stagingrc'),
  ]);
  return {
    ...(environmentCfg !== undefined ? { environmentCfg } : {}),
    ...(stagingrc !== undefined ? { stagingrc } : {}),
  };
}
