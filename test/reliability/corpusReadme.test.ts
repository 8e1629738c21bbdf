import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_CASES, SURL_LIST_CASES } from '../corpus/inputs';
import { tarballCases } from '../corpus/tarballs';
import { TOKEN_CASES } from '../corpus/tokens';

/** test/corpus/README.md lists every case with its expected outcome: a case added without a row fails here. */
describe('corpus README', () => {
  it('has a row for every case, naming its file or id and its outcome', async () => {
    const readme = await readFile(join(__dirname, '../corpus/README.md'), 'utf8');
    const rows = readme.split('\n').filter((l) => l.startsWith('| '));
    const rowOf = (name: string, key: string) =>
      rows.find((r) => r.startsWith(`| ${name} |`) && r.includes(`\`${key}\``));
    for (const c of tarballCases('/outside'))
      expect(rowOf(c.name, c.file), c.name).toContain(`| ${c.outcome}`);
    for (const c of [...SURL_LIST_CASES, ...CONFIG_CASES]) {
      expect(rowOf(c.name, c.file), c.name).toContain(`| ${c.expect.exit} ${c.expect.code} |`);
    }
    for (const c of TOKEN_CASES) expect(rowOf(c.name, c.id), c.name).toContain(`| ${c.outcome}`);
  });
});
