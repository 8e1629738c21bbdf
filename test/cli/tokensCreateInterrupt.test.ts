import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_LRT, lrtProcess } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';

/*
 * Ctrl-C during `lrt tokens create` of 20,000 tokens, and during `lrt tokens delete` of them (real
 * processes, a real SIGINT): only whole batches are written, the progress line is closed, a
 * summary says what was done and how to go on, the exit code is 130, and the same command then
 * does exactly the rest.
 */

const TOKENS = 20_000;
const BATCH = 50;
const DELETE_TOKENS = 2000;
let t: TestDatabase;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  t = await createTestDatabase('lrt_ctrlc');
  env = { PICAS_URL: t.serverUrl, PICAS_DB: t.name };
  dir = await mkdtemp(join(tmpdir(), 'lrt-ctrlc-'));
  const lines = Array.from(
    { length: TOKENS },
    (_, sb) =>
      `srm://srm.grid.sara.nl:8443/pnfs/grid.sara.nl/data/lofar/ops/projects/x/1/L1_SB${sb}_uv.MS.tar`,
  );
  await writeFile(join(dir, 'big.txt'), `${lines.join('\n')}\n`);
});
afterAll(() => t.drop());

function auth() {
  return { authorization: `Basic ${Buffer.from(`${t.user}:${t.password}`).toString('base64')}` };
}

async function dbInfo(): Promise<{ doc_count?: number }> {
  return (await (await fetch(`${t.baseUrl}/${t.name}`, { headers: auth() })).json()) as {
    doc_count?: number;
  };
}

/** Design documents (a type has two: its own and `finished:<type>`), from _all_docs by key range. */
async function designDocCount(): Promise<number> {
  const range = `startkey=${encodeURIComponent('"_design/"')}&endkey=${encodeURIComponent('"_design0"')}`;
  const res = await fetch(`${t.baseUrl}/${t.name}/_all_docs?${range}`, { headers: auth() });
  return ((await res.json()) as { rows?: unknown[] }).rows?.length ?? 0;
}

/** Tokens in the database: documents less the design documents (database info, no view to build). */
async function tokenCount(): Promise<number> {
  return Math.max(0, ((await dbInfo()).doc_count ?? 0) - (await designDocCount()));
}

/** Runs `lrt ARGS` in `dir`, sends SIGINT once `started()` holds, and resolves with how it ended. */
async function interrupt(args: string[], started: () => Promise<boolean>) {
  const child = execa('node', [DIST_LRT, ...args], {
    cwd: dir,
    env: { HOME: '/nonexistent-home', PATH: process.env.PATH, ...env },
    extendEnv: false,
    reject: false,
    stripFinalNewline: false,
  });
  for (let i = 0; i < 1500 && !(await started()); i++) await new Promise((r) => setTimeout(r, 20));
  expect(child.kill('SIGINT')).toBe(true);
  return child;
}

describe('Ctrl-C during tokens create', () => {
  it('writes whole batches, says what was written and how to resume; the rerun creates the rest', async () => {
    const args = ['tokens', 'create', '--type', 'ctrlc', '--srm', 'big.txt', '--per-token', '1'];
    const child = await interrupt(
      [...args, '--batch-size', String(BATCH)],
      async () => (await tokenCount()) > 0,
    );
    const res = await child;
    expect(res.exitCode, res.stderr).toBe(130);
    const summary = /^interrupted: (\d+) created, 0 already existed, 0 failed; (\d+) of 20000 not sent/m.exec(
      res.stdout,
    );
    expect(summary, res.stdout).not.toBeNull();
    const created = Number(summary![1]);
    expect(created).toBeGreaterThan(0);
    expect(created % BATCH).toBe(0);
    expect(created + Number(summary![2])).toBe(TOKENS);
    expect(res.stderr).toContain(
      'only whole batches were written; run the same command again to create the rest',
    );
    // The progress line was closed before the summary: the note is a line of its own, the last.
    expect(res.stderr.split('\n').at(-2)).toMatch(/^only whole batches were written/);
    expect(await tokenCount()).toBe(created);

    const rerun = await lrtProcess([...args, '--json'], { env, cwd: dir });
    expect(rerun.exitCode, rerun.stderr).toBe(0);
    const report = JSON.parse(rerun.stdout);
    expect(report.created).toHaveLength(TOKENS - created);
    expect(report.existing).toHaveLength(created);
    expect(await tokenCount()).toBe(TOKENS);
  });

  it('tokens delete: stops between pages, says how many went and that the same command goes on', async () => {
    // Another type, fewer tokens: each page of a delete is a view read and a write.
    const lines = Array.from(
      { length: DELETE_TOKENS },
      (_, sb) =>
        `srm://srm.grid.sara.nl:8443/pnfs/grid.sara.nl/data/lofar/ops/projects/x/2/L2_SB${sb}_uv.MS.tar`,
    );
    await writeFile(join(dir, 'small.txt'), `${lines.join('\n')}\n`);
    const made = await lrtProcess(
      ['tokens', 'create', '--type', 'ctrld', '--srm', 'small.txt', '--per-token', '1'],
      {
        env,
        cwd: dir,
      },
    );
    expect(made.exitCode, made.stderr).toBe(0);
    const before = await tokenCount();
    const args = ['tokens', 'delete', '--type', 'ctrld', '--view', 'todo', '--yes', '--batch-size', '20'];
    const res = await interrupt(args, async () => (await tokenCount()) < before);
    expect(res.exitCode, res.stderr).toBe(130);
    const summary =
      /^interrupted: delete (\d+) tokens of type ctrld in view todo before Ctrl-C \(0 failed\)$/m.exec(
        res.stdout,
      );
    expect(summary, res.stdout).not.toBeNull();
    const deleted = Number(summary![1]);
    expect(deleted).toBeGreaterThan(0);
    expect(deleted).toBeLessThan(DELETE_TOKENS);
    expect(deleted % 20).toBe(0);
    expect(res.stderr.split('\n').at(-2)).toBe(
      'only whole pages were written; run the same command again to go on (tokens already done are skipped)',
    );
    expect(await tokenCount()).toBe(before - deleted);
    const rest = await lrtProcess(args, { env, cwd: dir });
    expect(rest.exitCode, rest.stderr).toBe(0);
    expect(rest.stdout).toContain(`delete: ${DELETE_TOKENS - deleted} tokens of type ctrld in view todo`);
    expect(await tokenCount()).toBe(before - DELETE_TOKENS);
  }, 120_000);
});
