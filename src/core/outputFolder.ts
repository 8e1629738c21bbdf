import { access, constants, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileProblem } from './errors';

/**
 * Why files cannot be written under `dir` (an output folder a command will create), or
 * undefined: the first part of the path that exists must be a writable folder. Creates nothing,
 * so a command can refuse a bad --out before it does any work.
 */
export async function outputFolderProblem(dir: string): Promise<string | undefined> {
  for (let path = dir; ; path = dirname(path)) {
    const info = await stat(path).catch((err: NodeJS.ErrnoException) => err);
    if (info instanceof Error) {
      if ((info.code === 'ENOENT' || info.code === 'ENOTDIR') && dirname(path) !== path) continue;
      return `${path}: ${fileProblem(info)}`;
    }
    if (!info.isDirectory()) return `${path} is a file, not a folder`;
    return access(path, constants.W_OK).then(
      () => undefined,
      () => `${path} is not writable`,
    );
  }
}
