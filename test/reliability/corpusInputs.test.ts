import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_CASES, type InputCase, SURL_LIST_CASES, surl } from '../corpus/inputs';
import { writeInputCases } from '../corpus/make';
import { lrt } from '../helpers/cli';
import {
  adminAuthHeader,
  createTestDatabase,
  databaseFingerprint,
  type TestDatabase,
  trackDatabase,
} from '../helpers/couch';

/**
 * Bad SURL lists and configs through the real commands: `lrt srm info`, `lrt tokens create --srm`
 * and `lrt tokens create --config`. Each must fail with its own code and a message naming the file
 * and the cause, and a refused `tokens create` must leave the database exactly as it was.
 */

let db: TestDatabase;
let env: Record<string, string>;
let dir: string;
let srmPaths: Map<string, string>;
let configPaths: Map<string, string>;
const TYPE = 'corpus';

async function couch(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${db.baseUrl}/${path}`, { headers: { authorization: adminAuthHeader() } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Everything a write would change: every document with its revisions. */
function snapshot(): Promise<string> {
  return databaseFingerprint(db);
}

function checkFailure(
  c: InputCase,
  path: string,
  result: { exitCode: number; stdout: string; stderr: string },
) {
  expect(result.exitCode, `${c.name}: ${result.stderr}`).toBe(c.expect.exit);
  const body = JSON.parse(result.stdout) as { error: { code: string; message: string } };
  expect(body.error.code, c.name).toBe(c.expect.code);
  expect(body.error.message, c.name).toContain(path);
  for (const part of c.expect.includes) expect(body.error.message, c.name).toContain(part);
  expect(result.stderr, c.name).toContain(body.error.message.split('\n')[0]!);
  // a message stays readable, whatever the input: no 200 kB line echoed back
  expect(body.error.message.length, c.name).toBeLessThan(2000);
}

beforeAll(async () => {
  db = await createTestDatabase('lrt_corpus_inputs');
  const url = new URL(db.baseUrl);
  url.username = db.user;
  url.password = db.password;
  env = { PICAS_URL: url.toString(), PICAS_DB: db.name };
  dir = await mkdtemp(join(tmpdir(), 'lrt-corpus-inputs-'));
  srmPaths = await writeInputCases(join(dir, 'srm'), SURL_LIST_CASES);
  configPaths = await writeInputCases(join(dir, 'config'), CONFIG_CASES);
  // a database in use: the design doc and one token exist before the bad inputs arrive
  const seeded = await lrt(['tokens', 'create', '--type', TYPE, '--id-suffix', 'seed', '--set', 'OBSID=L1'], {
    env,
  });
  expect(seeded.exitCode, seeded.stderr).toBe(0);
});

afterAll(async () => {
  await db.drop();
});

describe('bad SURL lists', () => {
  it.each(SURL_LIST_CASES.map((c) => [c.name, c] as const))('%s: lrt srm info refuses it', async (_, c) => {
    const path = srmPaths.get(c.name)!;
    checkFailure(c, path, await lrt(['srm', 'info', path, '--json']));
  });

  it.each(SURL_LIST_CASES.map((c) => [c.name, c] as const))(
    '%s: lrt tokens create --srm writes nothing',
    async (_, c) => {
      const path = srmPaths.get(c.name)!;
      const before = await snapshot();
      checkFailure(
        c,
        path,
        await lrt(['tokens', 'create', '--type', TYPE, '--srm', path, '--json'], { env }),
      );
      expect(await snapshot(), c.name).toBe(before);
    },
  );

  it('a good list next to them still works (the corpus is not just broken everything)', async () => {
    const { writeFile } = await import('node:fs/promises');
    const good = join(dir, 'good.txt');
    await writeFile(good, `${surl(0)}\n${surl(1)}\n`);
    const info = await lrt(['srm', 'info', good, '--json']);
    expect(info.exitCode, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ obsid: 'L229507', site: 'sara', count: 2 });
  });
});

describe('bad token configs', () => {
  it.each(CONFIG_CASES.map((c) => [c.name, c] as const))(
    '%s: lrt tokens create --config refuses it and writes nothing',
    async (_, c) => {
      const path = configPaths.get(c.name)!;
      const before = await snapshot();
      const result = await lrt(
        ['tokens', 'create', '--type', TYPE, '--id-suffix', 'cfg', '--config', path, '--json'],
        { env },
      );
      checkFailure(c, path, result);
      expect(await snapshot(), c.name).toBe(before);
    },
  );

  it('a refused config against a database that does not exist yet does not create it', async () => {
    const fresh = trackDatabase(`${db.name}_never`);
    const path = configPaths.get('JSON cut off mid-value')!;
    const result = await lrt(['tokens', 'create', '--type', TYPE, '--id-suffix', 'x', '--config', path], {
      env: { ...env, PICAS_DB: fresh },
    });
    expect(result.exitCode).toBe(7);
    expect((await couch(fresh)).status).toBe(404);
  });
});
