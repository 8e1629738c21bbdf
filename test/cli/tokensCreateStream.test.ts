import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAttachment } from '../../src/picas/attachments';
import { openPicas, type PicasDb } from '../../src/picas/client';
import { DIST_LRT } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';

/*
 * `lrt tokens create` streams its SURL list: memory does not grow with the list. The proof runs the
 * built bundle with a 32 MB JavaScript heap on a list of 100,000 SURLs: the parsed list alone
 * (some 600 bytes a SURL) is twice that, so a command that holds the list or its tokens dies of
 * "heap out of memory"; the streaming one creates every token.
 */

const SURLS = 100_000;
const PER_TOKEN = 50;
const HEAP_MB = 32;

const surlOf = (sb: number) =>
  `srm://srm.grid.sara.nl:8443/pnfs/grid.sara.nl/data/lofar/ops/projects/lc2_038/229507/L229507_SB${String(sb).padStart(3, '0')}_uv.dppp.MS_3d78b8f1.tar`;

describe('lrt tokens create holds neither the SURL list nor the tokens', () => {
  let testDb: TestDatabase;
  let picas: PicasDb;
  let dir: string;
  let list: string;
  beforeAll(async () => {
    testDb = await createTestDatabase('lrt_cli_stream');
    picas = openPicas({
      url: testDb.baseUrl,
      database: testDb.name,
      user: testDb.user,
      password: testDb.password,
    });
    dir = mkdtempSync(join(tmpdir(), 'lrt-create-stream-'));
    list = join(dir, 'big.txt');
    const out = createWriteStream(list);
    for (let sb = 0; sb < SURLS; sb++) out.write(`${surlOf(sb)}\n`);
    out.end();
    await finished(out);
  });
  afterAll(async () => {
    await testDb?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`creates ${SURLS / PER_TOKEN} tokens from ${SURLS} SURLs in a ${HEAP_MB} MB heap`, async () => {
    const res = await execa(
      'node',
      [
        `--max-old-space-size=${HEAP_MB}`,
        DIST_LRT,
        ...['tokens', 'create', '--type', 'big', '--srm', list, '--per-token', String(PER_TOKEN)],
      ],
      {
        env: {
          HOME: '/nonexistent-home',
          PATH: process.env.PATH,
          PICAS_URL: testDb.baseUrl,
          PICAS_DB: testDb.name,
          PICAS_USR: testDb.user,
          PICAS_USR_PWD: testDb.password,
        },
        extendEnv: false,
        reject: false,
      },
    );
    expect(res.stderr).not.toContain('heap out of memory');
    expect(res.exitCode).toBe(0);
    const tokens = SURLS / PER_TOKEN;
    expect(res.stdout).toContain(`${tokens} created, 0 already existed, 0 failed (type big`);
    const info = await picas.server.db.get(picas.name);
    // the tokens and the design documents of the type
    expect(
      info.doc_count - (await picas.db.list({ startkey: '_design/', endkey: '_design0' })).rows.length,
    ).toBe(tokens);
    for (const chunk of [0, tokens / 2, tokens - 1]) {
      const start = chunk * PER_TOKEN;
      const id = `t_big_L229507_SB${String(start).padStart(3, '0')}`;
      const srm = (await getAttachment(picas, id, 'srm.txt')).toString('utf8');
      const want = Array.from({ length: PER_TOKEN }, (_, k) => `${surlOf(start + k)}\n`).join('');
      expect(srm).toBe(want);
    }
  }, 240_000);
});
