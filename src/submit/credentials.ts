import { chmod, open } from 'node:fs/promises';
import { fileProblem, LrtError } from '../core';
import type { PicasSettings } from '../picas/connectionSettings';

/** Name of the credentials file next to the job description and in the grid InputSandbox. */
export const CREDENTIALS_FILE = 'picas-credentials';

/**
 * The text of a pilot credentials file: `key=value` lines as in ~/.picasrc, read by the pilot's
 * `--credentials FILE`. A value with a line break cannot be written safely.
 */
export function credentialsText(settings: PicasSettings): string {
  const lines = [
    '# PiCaS credentials for grid-lrt pilots (lrt submit). Keep this file private (mode 0600).',
    `url=${settings.url}`,
    `database=${settings.database}`,
  ];
  if (settings.user) lines.push(`user=${settings.user}`);
  if (settings.password) lines.push(`password=${settings.password}`);
  for (const line of lines) {
    if (/[\r\n]/.test(line.slice(line.indexOf('=') + 1))) {
      throw new LrtError('E_CONFIG', `the PiCaS ${line.slice(0, line.indexOf('='))} holds a line break`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the file with mode 0600 from the first byte (never readable by others, whatever the umask). */
export async function writeCredentialsFile(path: string, settings: PicasSettings): Promise<void> {
  const handle = await open(path, 'w', 0o600).catch((err: NodeJS.ErrnoException) => {
    throw new LrtError('E_IO', `cannot write the credentials file ${path}: ${fileProblem(err, 'write')}`, {
      cause: err,
    });
  });
  try {
    await handle.writeFile(credentialsText(settings));
  } finally {
    await handle.close();
  }
  // open() keeps the mode of an existing file: set it in any case.
  await chmod(path, 0o600);
}
