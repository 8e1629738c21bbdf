import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_LRT, lrt, lrtProcess } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import { updateDoc } from '../helpers/seedTokens';
import {
  attemptLogs,
  doneToken,
  errorToken,
  runningToken,
  seedStatusTokens,
  todoToken,
} from '../helpers/statusSeed';

const T = 'mon';
let t: TestDatabase;
let env: Record<string, string>;
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  t = await createTestDatabase('lrt_monitor');
  env = { PICAS_URL: t.baseUrl, PICAS_DB: t.name, PICAS_USR: t.user, PICAS_USR_PWD: t.password };
  const n = now();
  await seedStatusTokens(t, T, [
    todoToken(T, 't_todo_1'),
    todoToken(T, 't_todo_2'),
    todoToken(T, 't_todo_3'),
    doneToken(T, 't_done_1', n - 1200, [
      ['downloading', 30],
      ['running', 300],
    ]),
    doneToken(T, 't_done_2', n - 1200, [
      ['downloading', 60],
      ['running', 400],
    ]),
    doneToken(T, 't_done_3', n - 1200, [
      ['downloading', 90],
      ['running', 500],
    ]),
    {
      ...errorToken(T, 't_err_1', {
        time: n - 60,
        phase: 'running',
        exit: 99,
        message: 'demo failure requested for subband 7',
        attempts: 2,
        stderrTail: `${'noise\n'.repeat(20)}processing 1/3\nDPPP: MS has no data\nboom: exit 99\n`,
      }),
      _attachments: {
        ...attemptLogs(1, 'first try out\n', 'first try err\n'),
        ...attemptLogs(2, 'processing 1/3\n', 'boom: exit 99\n', '{"msg":"payload exited"}\n'),
      },
    },
    runningToken(T, 't_run_live', { claimed: n - 100, expires: n + 500, status: 'downloading' }),
    runningToken(T, 't_run_dead', {
      claimed: n - 3000,
      expires: n - 1800,
      pilot: 'pilot-dead',
      host: 'wn-lost',
    }),
  ]);
});
afterAll(() => t.drop());

describe('lrt status', () => {
  it('shows counts, progress, throughput, ETA, phase medians, failures and stale leases', async () => {
    const res = await lrt(['status', '--type', T], { env });
    expect(res.stderr).toBe('');
    expect(res.exitCode).toBe(0);
    const out = res.stdout;
    // 9 tokens: 3 done + 1 error finished.
    expect(out).toContain('4/9 finished (3 done, 1 error)');
    expect(out).toMatch(/todo 3 .*downloading 1 .*running 1 .*done 3 .*error 1/);
    expect(out).toContain('downloading 1m 00s'); // median of 30, 60, 90 s
    expect(out).toContain('running 6m 40s'); // median of 300, 400, 500 s
    expect(out).toMatch(
      /t_err_1 +\[running, exit 99 \(pipeline failure\), 2 attempts\] +demo failure requested for subband 7\n {6}stderr\| noise\n {6}stderr\| noise\n {6}stderr\| processing 1\/3\n {6}stderr\| DPPP: MS has no data\n {6}stderr\| boom: exit 99\n/,
    );
    expect(out).toMatch(/t_run_dead +pilot pilot-dead on wn-lost, attempt 1, expired 30m \d\ds ago/);
    expect(out).not.toMatch(/t_run_live +pilot/);
    expect(out).toMatch(/Throughput [\d.]+ tokens\/h/);
    expect(out).toMatch(/ETA \d/);
  });

  it('prints the report as JSON', async () => {
    const res = await lrt(['status', '--type', T, '--json'], { env });
    const report = JSON.parse(res.stdout);
    expect(report).toMatchObject({ total: 9, done: 3, error: 1, finished: 4, waiting: 3, running: 2 });
    // Four tokens finished within the last half hour of a run that started 20 minutes ago: 12/h.
    expect(report.throughput.basis).toBe('recent');
    expect(report.throughput.perHour).toBeCloseTo((4 / report.throughput.windowSeconds) * 3600, 5);
    expect(report.etaSeconds).toBe(Math.round((5 / report.throughput.perHour) * 3600));
    expect(report.stale.map((s: { id: string }) => s.id)).toEqual(['t_run_dead']);
    expect(report.failing[0]).toMatchObject({
      id: 't_err_1',
      exit: 99,
      exitMeaning: 'pipeline failure',
      stderrTail: ['noise', 'noise', 'processing 1/3', 'DPPP: MS has no data', 'boom: exit 99'],
    });
    expect(JSON.stringify(report)).not.toContain(t.password);
  });

  it('with --watch --json prints one compact JSON object per line (NDJSON) and sees a token finish', async () => {
    const run = execa(
      'node',
      [DIST_LRT, 'status', '--type', T, '--watch', '--interval', '2', '--rounds', '2', '--json'],
      {
        env: { HOME: '/nonexistent-home', PATH: process.env.PATH, ...env },
        extendEnv: false,
        reject: false,
      },
    );
    // The token finishes once the first report is out, before the second is read.
    await new Promise<void>((seen) => run.stdout.once('data', () => seen()));
    await updateDoc(t, 't_todo_3', () => ({
      lock: now(),
      done: now(),
      status: 'done',
      times: { locked: now(), done: now() },
    }));
    const res = await run;
    expect(res.exitCode).toBe(0);
    // Each line on its own is a whole report: what `jq`, `json.loads` per line, or a log shipper read.
    const reports = res.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    expect(reports).toHaveLength(2);
    expect(reports[1].done).toBe(reports[0].done + 1);
    await updateDoc(t, 't_todo_3', () => ({ lock: 0, done: 0, status: 'todo', times: {} }));
  });

  it('--rounds and --interval without --watch are usage errors, not repeated reports', async () => {
    for (const flag of ['--rounds', '--interval']) {
      const res = await lrt(['status', '--type', T, flag, '2', '--json'], { env });
      expect(res.exitCode, res.stdout).toBe(2);
      expect(JSON.parse(res.stdout).error.message).toBe(
        `${flag} is for --watch: add --watch, or leave it out for one report`,
      );
    }
  });

  it('names the missing type and the missing token type flag', async () => {
    const missing = await lrt(['status', '--type', 'nosuchtype'], { env });
    expect(missing.exitCode).toBe(5);
    expect(missing.stderr).toContain('_design/nosuchtype');
    const noType = await lrt(['status'], { env });
    expect(noType.exitCode).toBe(2);
    expect(noType.stderr).toContain('--type');
  });
});

describe('lrt logs', () => {
  it('prints the logs of the latest attempt, or of the attempt asked for', async () => {
    const latest = await lrt(['logs', 't_err_1'], { env });
    expect(latest.exitCode).toBe(0);
    expect(latest.stdout).toBe(
      '==> attempt-2.stdout.log <==\nprocessing 1/3\n==> attempt-2.stderr.log <==\nboom: exit 99\n' +
        '==> attempt-2.pilot.log <==\n{"msg":"payload exited"}\n',
    );
    const first = await lrt(['logs', 't_err_1', '--attempt', '1', '--name', 'attempt-1.stderr.log'], { env });
    expect(first.stdout).toBe('==> attempt-1.stderr.log <==\nfirst try err\n');
    // The name says its attempt: no --attempt needed for an older one.
    const byName = await lrt(['logs', 't_err_1', '--name', 'attempt-1.stderr.log'], { env });
    expect(byName.exitCode, byName.stderr).toBe(0);
    expect(byName.stdout).toBe('==> attempt-1.stderr.log <==\nfirst try err\n');
    // A name it does not have: the error lists the log names it has.
    const typo = await lrt(['logs', 't_err_1', '--name', 'attempt-1.err.log'], { env });
    expect(typo.exitCode).toBe(5);
    expect(typo.stderr).toContain(
      'no log attachments named attempt-1.err.log; its logs: attempt-1.stdout.log',
    );
  });

  it('--list shows every attempt with its pilot, host, time, exit code and logs', async () => {
    const res = await lrtProcess(['logs', 't_err_1', '--list'], { env });
    expect(res.exitCode, res.stderr).toBe(0);
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(
      /^attempt 1 +pilot p1 on wn2 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, 50s +exit 99 in running: demo failure requested for subband 7$/,
    );
    expect(lines[1]).toBe('  attempt-1.stdout.log  attempt-1.stderr.log  attempt-1.pilot.log');
    expect(lines[2]).toMatch(/^attempt 2 +pilot p2 on wn2 .*exit 99 in running/);
    expect(lines[3]).toBe('  attempt-2.stdout.log  attempt-2.stderr.log  attempt-2.pilot.log');

    const json = JSON.parse((await lrtProcess(['logs', 't_err_1', '--json', '--list'], { env })).stdout);
    expect(json.token).toBe('t_err_1');
    expect(json.unnumbered).toEqual([]);
    expect(
      json.attempts.map((a: { n: number; pilot: string; exit: number }) => [a.n, a.pilot, a.exit]),
    ).toEqual([
      [1, 'p1', 99],
      [2, 'p2', 99],
    ]);
    expect(json.attempts[0].logs).toEqual([
      'attempt-1.stdout.log',
      'attempt-1.stderr.log',
      'attempt-1.pilot.log',
    ]);

    const one = await lrtProcess(['logs', 't_err_1', '--list', '--attempt', '2'], { env });
    expect(one.stdout).toMatch(/^attempt 2 /);
    expect(one.stdout).not.toContain('attempt 1');
    const running = await lrtProcess(['logs', 't_run_live', '--list'], { env });
    expect(running.stdout).toMatch(
      /^attempt 1 +pilot p9 on wn9 .*, running or cut off\n {2}\(no logs attached\)$/,
    );
  });

  it('says which attempts have logs when the one asked for has none', async () => {
    const res = await lrt(['logs', 't_err_1', '--attempt', '5'], { env });
    expect(res.exitCode).toBe(5); // not found
    expect(res.stderr).toContain('attempts with logs: 1, 2');
    const none = await lrt(['logs', 't_done_1'], { env });
    expect(none.exitCode).toBe(5);
    expect(none.stderr).toContain('t_done_1 has no log attachments');
    const absent = await lrt(['logs', 't_nope'], { env });
    expect(absent.exitCode).toBe(5);
  });
});
