import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lrtProcess, withClosedStdout } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import { DIST_PILOT } from '../helpers/pilotWorld';
import { startStagerServer } from '../helpers/stagerServer';
import { attemptLogs, doneToken, errorToken, seedStatusTokens, todoToken } from '../helpers/statusSeed';

/*
 * `lrt ... | head`: the reader closes the pipe and every later write fails with EPIPE. Each
 * command that prints a list must then end quietly with status 0, not with a stack trace. The
 * pipe is closed before the first write, so the test fails whenever a command would crash.
 */

const SRM = resolve(__dirname, '../fixtures/srm/srm_50_sara.txt');
const TYPE = 'pipecheck';
let t: TestDatabase;
let env: Record<string, string>;

beforeAll(async () => {
  t = await createTestDatabase('lrt_pipe');
  env = { PICAS_URL: t.serverUrl, PICAS_DB: t.name };
  const failed = errorToken(TYPE, 't_pipe_err', {
    time: 1_700_000_500,
    phase: 'running',
    exit: 99,
    message: 'master.sh exited with code 99',
  });
  failed._attachments = attemptLogs(1, 'out\n'.repeat(50), 'err\n');
  await seedStatusTokens(t, TYPE, [
    ...Array.from({ length: 30 }, (_, i) => todoToken(TYPE, `t_pipe_${String(i).padStart(3, '0')}`)),
    doneToken(TYPE, 't_pipe_done', 1_700_000_000, [['running', 30]]),
    failed,
  ]);
});
afterAll(() => t.drop());

const offline: [string, string[]][] = [
  ['srm links', ['srm', 'links', SRM]],
  ['srm info', ['srm', 'info', SRM]],
  ['srm slice', ['srm', 'slice', SRM]],
  ['srm slice --json', ['srm', 'slice', '--json', SRM]],
  ['--help', ['--help']],
  ['tokens create --help', ['tokens', 'create', '--help']],
];

const withDatabase: [string, string[]][] = [
  ['tokens list', ['tokens', 'list', '--type', TYPE]],
  ['tokens list --json', ['tokens', 'list', '--type', TYPE, '--json']],
  ['tokens overview', ['tokens', 'overview', '--type', TYPE]],
  ['tokens show', ['tokens', 'show', 't_pipe_err']],
  ['status', ['status', '--type', TYPE]],
  ['status --watch', ['status', '--type', TYPE, '--watch', '--interval', '1']],
  ['status --watch --json', ['status', '--type', TYPE, '--watch', '--json', '--interval', '1']],
  ['logs', ['logs', 't_pipe_err']],
  ['logs --list', ['logs', 't_pipe_err', '--list']],
  ['views list', ['views', 'list', '--type', TYPE]],
  ['tokens get-attachment', ['tokens', 'get-attachment', 't_pipe_err', 'attempt-1.stdout.log']],
];

describe('a closed stdout ends the command quietly with status 0 (stager and sandbox lists)', () => {
  it('lrt stage list, lrt stage surls', async () => {
    const stager = await startStagerServer();
    try {
      const env = { LTA_STAGER_URL: stager.url, LOFAR_LTA_USER: stager.user, LOFAR_LTA_PWD: stager.password };
      const submitted = await lrtProcess(['stage', 'submit', '--json', SRM], { env });
      const id = String(JSON.parse(submitted.stdout).ids[0]);
      for (const args of [
        ['stage', 'list'],
        ['stage', 'surls', id],
        ['stage', 'list', '--json'],
      ]) {
        const res = await withClosedStdout(args, { env });
        expect(res.stderr).not.toContain('EPIPE');
        expect(res.exitCode).toBe(0);
      }
    } finally {
      await stager.close();
    }
  });

  it('lrt sandbox inspect', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lrt-pipe-sbx-'));
    const src = join(dir, 'sandbox');
    await mkdir(src);
    await writeFile(join(src, 'master.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
    for (let i = 0; i < 200; i++) await writeFile(join(src, `f${i}.txt`), 'x');
    const built = await lrtProcess(['sandbox', 'build', src, '--out', dir, '--no-pilot', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    const res = await withClosedStdout(['sandbox', 'inspect', JSON.parse(built.stdout).file]);
    expect(res.stderr).not.toContain('EPIPE');
    expect(res.exitCode).toBe(0);
  });
});

describe('a closed stdout ends the command quietly with status 0', () => {
  it.each(offline)('lrt %s', async (_name, args) => {
    const res = await withClosedStdout(args);
    expect(res.stderr).not.toContain('EPIPE');
    expect(res.exitCode).toBe(0);
  });

  it.each(withDatabase)('lrt %s', async (_name, args) => {
    const res = await withClosedStdout(args, { env });
    expect(res.stderr).not.toContain('EPIPE');
    expect(res.exitCode).toBe(0);
  });

  it('node dist/pilot.js --help', async () => {
    const res = await withClosedStdout(['--help'], { bundle: DIST_PILOT });
    expect(res.stderr).not.toContain('EPIPE');
    expect(res.exitCode).toBe(0);
  });
});
