import { describe, expect, it } from 'vitest';
import { durationCompact } from '../../src/core';
import {
  buildStatusReport,
  chooseLogs,
  eta,
  exitMeaning,
  median,
  phaseDurations,
  progressBar,
  renderStatus,
  throughput,
} from '../../src/monitor';
import { tokenFromDoc } from '../../src/picas/tokenDoc';
import * as seed from '../helpers/statusSeed';

const { attemptLogs } = seed;
const doneToken = (...args: Parameters<typeof seed.doneToken>) => tokenFromDoc(seed.doneToken(...args));
const errorToken = (...args: Parameters<typeof seed.errorToken>) => tokenFromDoc(seed.errorToken(...args));
const runningToken = (...args: Parameters<typeof seed.runningToken>) =>
  tokenFromDoc(seed.runningToken(...args));

const T = 'demo';
const NOW = 1_700_000_000;

describe('token statistics (pure)', () => {
  it('takes medians of odd and even lists', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeUndefined();
  });

  it('reads phase durations from times, ignoring entries of earlier attempts', () => {
    const doc = doneToken(T, 'a', NOW - 100, [
      ['downloading', 10],
      ['running', 60],
      ['uploading', 5],
    ]);
    expect(phaseDurations(doc)).toEqual([
      { phase: 'locked', seconds: 0 },
      { phase: 'downloading', seconds: 10 },
      { phase: 'running', seconds: 60 },
      { phase: 'uploading', seconds: 5 },
    ]);
    // A phase stamped before the last claim (an earlier attempt) is not counted.
    const retried = { ...doc, times: { ...doc.times, sandbox: NOW - 5000 } };
    expect(phaseDurations(retried).map((p) => p.phase)).not.toContain('sandbox');
  });

  it('computes throughput over the recent window, else the whole run, and the ETA from it', () => {
    // 6 tokens finished in the last 10 minutes of a run that started 10 minutes ago: 36/h.
    const docs = Array.from({ length: 6 }, (_, i) =>
      doneToken(T, `d${i}`, NOW - 600, [['running', 100 * i]]),
    );
    const rate = throughput(docs, NOW);
    expect(rate).toEqual({ perHour: 36, basis: 'recent', windowSeconds: 600 });
    expect(eta(18, rate!.perHour)).toBe(1800);
    expect(eta(0, undefined)).toBe(0);
    expect(eta(5, undefined)).toBeUndefined();
    // All finished long ago: 2 tokens over 1000 s of run = 7.2/h.
    const old = [
      doneToken(T, 'o1', NOW - 10_000, [['running', 500]]),
      doneToken(T, 'o2', NOW - 10_000, [['running', 1000]]),
    ];
    expect(throughput(old, NOW)).toEqual({ perHour: 7.2, basis: 'overall', windowSeconds: 1000 });
  });

  it('builds the report: counts, progress, medians, failing tokens newest first, stale leases', () => {
    const done = [10, 20, 30].map((s, i) =>
      doneToken(T, `d${i}`, NOW - 1000, [
        ['downloading', s],
        ['running', 100],
      ]),
    );
    const failed = [
      errorToken(T, 'e_old', { time: NOW - 500, phase: 'running', exit: 2, message: 'old failure' }),
      errorToken(T, 'e_new', {
        time: NOW - 100,
        phase: 'uploading',
        exit: 99,
        message: 'upload refused',
        attempts: 3,
      }),
    ];
    const stale = [
      runningToken(T, 's1', { claimed: NOW - 900, expires: NOW - 300, pilot: 'px', host: 'wnx' }),
    ];
    const report = buildStatusReport({
      type: T,
      database: 'db',
      now: NOW,
      counts: { todo: 5, locked: 1, running: 2, done: 3, error: 2, staging: 0 },
      done,
      failed,
      stale,
    });
    expect(report.total).toBe(13);
    expect(report.finished).toBe(5);
    expect(report.running).toBe(3);
    expect(report.progress).toBeCloseTo(5 / 13);
    expect(report.states.map((s) => s.state)).toEqual([
      'staging',
      'todo',
      'locked',
      'running',
      'done',
      'error',
    ]);
    expect(report.phases.find((p) => p.phase === 'downloading')).toEqual({
      phase: 'downloading',
      median: 20,
      n: 3,
    });
    expect(report.phases.find((p) => p.phase === 'running')?.median).toBe(100);
    expect(report.failing.map((f) => f.id)).toEqual(['e_new', 'e_old']);
    expect(report.failing[0]).toMatchObject({
      phase: 'uploading',
      exit: 99,
      message: 'upload refused',
      attempts: 3,
    });
    expect(report.stale).toEqual([
      { id: 's1', pilot: 'px', host: 'wnx', attempt: 1, expires: NOW - 300, expiredFor: 300 },
    ]);

    const text = renderStatus(report).join('\n');
    expect(text).toContain(progressBar(5 / 13));
    expect(text).toContain('5/13 finished (3 done, 2 error)');
    expect(text).toMatch(/e_new +\[uploading, exit 99 \(pipeline failure\), 3 attempts\] +upload refused/);
    expect(text).toContain('s1  pilot px on wnx, attempt 1, expired 5m 00s ago');
    expect(text).toContain('downloading 20s');
  });

  it('formats durations and bars', () => {
    expect(durationCompact(4)).toBe('4s');
    expect(durationCompact(65)).toBe('1m 05s');
    expect(durationCompact(3725)).toBe('1h 02m');
    expect(durationCompact(90000)).toBe('1d 01h');
    expect(progressBar(0.5, 10)).toBe('[#####-----]');
  });

  it('chooses the log attachments of the latest attempt, or the one asked for', () => {
    const doc = {
      ...doneToken(T, 'x', NOW, []),
      _attachments: { ...attemptLogs(1, 'a'), ...attemptLogs(2, 'b'), 'srm.txt': {} },
    };
    expect(chooseLogs(doc as never)).toEqual({
      attempt: 2,
      names: ['attempt-2.stdout.log', 'attempt-2.stderr.log', 'attempt-2.pilot.log'],
      attempts: [1, 2],
    });
    expect(chooseLogs(doc as never, 1).names[0]).toBe('attempt-1.stdout.log');
    expect(chooseLogs(doc as never, 3).names).toEqual([]);
    const legacy = { ...doc, _attachments: { 'job.out': {}, 'job.err': {}, 'srm.txt': {} } };
    expect(chooseLogs(legacy as never).names).toEqual(['job.err', 'job.out']);
  });
});

describe('exitMeaning', () => {
  it('names the LOFAR sandbox codes, the pilot codes and signals; nothing for unknown codes', () => {
    expect(exitMeaning(99)).toBe('pipeline failure');
    expect(exitMeaning(11)).toBe('software environment missing');
    expect(exitMeaning(-2)).toBe('sandbox empty, or token variables missing');
    expect(exitMeaning(143)).toBe('killed by signal 15 (SIGTERM); a timed-out payload ends this way');
    expect(exitMeaning(137)).toMatch(/^killed by signal 9 \(SIGKILL\)/);
    expect(exitMeaning(5)).toBeUndefined();
    expect(exitMeaning(42)).toBeUndefined();
  });
});

describe('phase times the pilot recorded on the attempt', () => {
  it('are used with their fractions; tokens without them fall back to times', () => {
    const withPhases = {
      ...doneToken('demo', 'a', 1_700_000_000, [['running', 1]]),
    };
    withPhases.attempts![0]!.phases = {
      sandbox: 0.213,
      inputs: 0.04,
      running: 2.5,
      uploading: 61,
    };
    expect(phaseDurations(withPhases)).toEqual([
      { phase: 'sandbox', seconds: 0.213 },
      { phase: 'inputs', seconds: 0.04 },
      { phase: 'running', seconds: 2.5 },
      { phase: 'uploading', seconds: 61 },
    ]);
    expect(phaseDurations(doneToken('demo', 'b', 1_700_000_000, [['running', 30]]))).toEqual([
      { phase: 'locked', seconds: 0 },
      { phase: 'running', seconds: 30 },
    ]);
    expect([0.213, 0.04, 2.5, 61, 4].map(durationCompact)).toEqual([
      '0.21s',
      '0.04s',
      '2.5s',
      '1m 01s',
      '4s',
    ]);
  });
});
