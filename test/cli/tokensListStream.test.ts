import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from '../../src/cli/commands';
import { runCli } from '../../src/cli/run';
import { bulkCreateTokens } from '../../src/picas/bulkCreate';
import { openPicas } from '../../src/picas/client';
import { ensureDesignDoc } from '../../src/picas/designDocStore';
import { type HttpFaultProxy, startHttpFaultProxy } from '../chaos/support/httpFaultProxy';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';

/*
 * `lrt tokens list` prints each page as it reads it: the first line is out after one view read,
 * not after the whole view (which at a million tokens did not fit in a string). A proxy in front
 * of the server counts the view reads; stdout notes how many there had been at its first line.
 */

const TOKENS = 1200; // three pages of 500

describe('lrt tokens list streams the view', () => {
  let testDb: TestDatabase;
  let proxy: HttpFaultProxy;
  let viewReads = 0;
  beforeAll(async () => {
    testDb = await createTestDatabase('lrt_cli_liststream');
    const picas = openPicas({
      url: testDb.baseUrl,
      database: testDb.name,
      user: testDb.user,
      password: testDb.password,
    });
    await ensureDesignDoc(picas, 'ls');
    const tokens = Array.from({ length: TOKENS }, (_, i) => ({
      id: `t_ls_${String(i).padStart(5, '0')}`,
      fields: { n: i },
    }));
    expect((await bulkCreateTokens(picas, 'ls', tokens)).counts.created).toBe(TOKENS);
    proxy = await startHttpFaultProxy(testDb.baseUrl, () => undefined, {
      onReply: (req) => {
        if (req.url?.includes('/_view/todo')) viewReads += 1;
      },
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await testDb?.drop();
  });

  it.each([
    ['--json', true],
    ['ids', false],
  ])('%s: the first line is written after the first page, every token once', async (_name, json) => {
    viewReads = 0;
    let readsAtFirstLine: number | undefined;
    let stdout = '';
    const code = await runCli(commands, ['tokens', 'list', '--type', 'ls', ...(json ? ['--json'] : [])], {
      stdout: {
        write: (text: string) => {
          readsAtFirstLine ??= viewReads;
          stdout += text;
          return true;
        },
      },
      stderr: { write: () => true },
      env: {
        PICAS_URL: proxy.via(testDb.baseUrl),
        PICAS_DB: testDb.name,
        PICAS_USR: testDb.user,
        PICAS_USR_PWD: testDb.password,
      },
      cwd: process.cwd(),
      home: '/nonexistent-home',
    });
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    const ids = json ? lines.map((line) => (JSON.parse(line) as { _id: string })._id) : lines;
    expect(new Set(ids).size).toBe(TOKENS);
    expect(ids[0]).toBe('t_ls_00000');
    expect(viewReads).toBeGreaterThanOrEqual(3);
    expect(readsAtFirstLine).toBe(1);
  });
});
