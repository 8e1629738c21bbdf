/**
 * Writes the bad-input corpus to a directory: `npx tsx test/corpus/make.ts DIR` (for trying the
 * cases by hand), and the reliability tests call the same functions at test time. README.md lists
 * every case and the error it must give.
 *
 *   DIR/tarballs/  sandbox tarballs (the escapes aim at DIR/outside/)
 *   DIR/srm/       SURL lists
 *   DIR/config/    token configs
 *   DIR/tokens.json  the malformed token documents (fields laid over a valid token)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CONFIG_CASES, type InputCase, SURL_LIST_CASES } from './inputs';
import { type TarballCase, tarballCases } from './tarballs';
import { TOKEN_CASES } from './tokens';

/** Writes the cases of one kind into `dir`; returns the path of each case by name. */
export async function writeInputCases(
  dir: string,
  cases: readonly InputCase[],
): Promise<Map<string, string>> {
  await mkdir(dir, { recursive: true });
  const paths = new Map<string, string>();
  for (const c of cases) {
    const path = join(dir, c.file);
    paths.set(c.name, path);
    if (c.content === 'missing') continue;
    if (c.content === 'directory') await mkdir(path, { recursive: true });
    else await writeFile(path, c.content);
  }
  return paths;
}

export async function writeTarballs(
  dir: string,
  outside: string,
): Promise<{ c: TarballCase; path: string }[]> {
  await mkdir(dir, { recursive: true });
  await mkdir(outside, { recursive: true });
  const written = [];
  for (const c of tarballCases(outside)) {
    const path = join(dir, c.file);
    if (c.bytes) await writeFile(path, c.bytes());
    written.push({ c, path });
  }
  return written;
}

export async function writeCorpus(dir: string): Promise<void> {
  await writeTarballs(join(dir, 'tarballs'), join(dir, 'outside'));
  await writeInputCases(join(dir, 'srm'), SURL_LIST_CASES);
  await writeInputCases(join(dir, 'config'), CONFIG_CASES);
  await writeFile(join(dir, 'tokens.json'), `${JSON.stringify(TOKEN_CASES, null, 2)}\n`);
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: npx tsx test/corpus/make.ts DIR\n');
    process.exit(2);
  }
  writeCorpus(resolve(dir)).then(
    () => process.stdout.write(`corpus written to ${resolve(dir)}\n`),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
