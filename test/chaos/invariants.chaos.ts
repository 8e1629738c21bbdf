import { describe, expect, it } from 'vitest';
import { logAttachmentName } from '../../src/picas/logNames';
import { claimPatch, finishPatch, leaseOf, reclaimPatch, releasePatch } from '../../src/picas/protocol';
import { type TokenDoc, tokenFromDoc } from '../../src/picas/tokenDoc';
import { checkChaosInvariants, type FinalToken } from './support/invariants';
import { CHAOS_FAIL_EXIT, parseLedger } from './support/ledger';

/**
 * The chaos verdict must be able to fail: histories built with the real protocol steps
 * (src/picas/lease), then broken one way at a time.
 */

const T = 1_800_000_000;
const input = (leaseId: string, now: number) => ({
  leaseId,
  pilot: `pilot-${leaseId}`,
  host: 'wn',
  jobIds: {},
  now,
  leaseSeconds: 4,
});

function fresh(id: string): TokenDoc {
  return tokenFromDoc({ _id: id, type: 'chaos', lock: 0, done: 0, status: 'todo' });
}

function claim(doc: TokenDoc, leaseId: string, now: number): TokenDoc {
  const out = claimPatch(doc, input(leaseId, now));
  if ('skip' in out) throw new Error(out.skip);
  return out.doc;
}

/** The lease expired (pilot killed): another pilot takes the token over. */
function reclaim(doc: TokenDoc, leaseId: string, now: number): TokenDoc {
  const out = reclaimPatch(doc, { ...input(leaseId, now), maxAttempts: 100 });
  if ('skip' in out || out.outcome !== 'claimed') throw new Error('no reclaim');
  return out.doc;
}

function finish(doc: TokenDoc, exitCode: number, now: number): TokenDoc {
  const lease = leaseOf(doc)!;
  const out = finishPatch(doc, lease.id, { now, exitCode, ok: exitCode === 0, phase: 'running' });
  if ('lost' in out) throw new Error('lost');
  const logs = Object.fromEntries(
    (['stdout', 'stderr', 'pilot'] as const).map((k) => [
      logAttachmentName(lease.attempt, k),
      { stub: true as const, content_type: 'text/plain', length: 1 },
    ]),
  );
  return { ...out.doc, _attachments: { ...(doc._attachments ?? {}), ...logs } };
}

function release(doc: TokenDoc, now: number): TokenDoc {
  const out = releasePatch(doc, leaseOf(doc)!.id, { now, reason: 'pilot stopped by a signal' });
  if ('lost' in out) throw new Error('lost');
  return out.doc;
}

const start = (token: string, attempt: number, run: string, us: number) =>
  `start ${token} ${attempt} lease-${run} ${run} ${us}`;
const end = (token: string, attempt: number, run: string, us: number, code: number) =>
  `end ${token} ${attempt} lease-${run} ${run} ${us} ${code}`;
const stdout = (token: string, attempt: number, run: string) =>
  `chaos-run ${run} token ${token} attempt ${attempt}\n`;

/**
 * Token a: killed during attempt 1 (its run r1 went on and ended), reclaimed, finished by r2.
 * Token b: stopped by SIGTERM during attempt 1 (run r3 cut short), claimed again, finished by r4.
 * Token c: meant to fail, run r5 exits 3.
 */
function cleanWorld() {
  const a = finish(reclaim(claim(fresh('a'), 'A1', T), 'A2', T + 10), 0, T + 11);
  const b = finish(claim(release(claim(fresh('b'), 'B1', T), T + 1), 'B2', T + 2), 0, T + 3);
  const c = finish(claim(fresh('c'), 'C1', T), CHAOS_FAIL_EXIT, T + 1);
  const tokens: FinalToken[] = [
    { doc: a, committedStdout: stdout('a', 2, 'r2') },
    { doc: b, committedStdout: stdout('b', 2, 'r4') },
    { doc: c, committedStdout: stdout('c', 1, 'r5') },
  ];
  const ledger = [
    start('a', 1, 'r1', 1),
    end('a', 1, 'r1', 2, 0),
    start('a', 2, 'r2', 3),
    end('a', 2, 'r2', 4, 0),
    start('b', 1, 'r3', 1),
    start('b', 2, 'r4', 5),
    end('b', 2, 'r4', 6, 0),
    start('c', 1, 'r5', 1),
    end('c', 1, 'r5', 2, CHAOS_FAIL_EXIT),
  ];
  return { tokens, ledger, expected: { ids: ['a', 'b', 'c'], failing: new Set(['c']) } };
}

const verdict = (w: ReturnType<typeof cleanWorld>) =>
  checkChaosInvariants(w.tokens, w.expected, parseLedger(`${w.ledger.join('\n')}\n`));

describe('chaos invariants', () => {
  it('a history with kills, a SIGTERM and a failing payload passes, with its figures', () => {
    const v = verdict(cleanWorld());
    expect(v.violations).toEqual([]);
    expect(v.figures).toMatchObject({
      tokens: 3,
      done: 2,
      error: 1,
      payloadRuns: 5,
      duplicateRuns: 2,
      tokensRunTwice: 2,
      fencedByExpiry: 1,
      fencedByRelease: 1,
      reclaims: 1,
      releases: 1,
    });
  });

  it('flags the result of a fenced run committed in place of the finishing one', () => {
    const w = cleanWorld();
    w.tokens[0]!.committedStdout = stdout('a', 1, 'r1');
    expect(verdict(w).violations.join('\n')).toMatch(/belongs to another lease than attempt 2/);
  });

  it('flags a token left locked, and one that ended in the wrong state', () => {
    const w = cleanWorld();
    w.tokens[0]!.doc = reclaim(claim(fresh('a'), 'A1', T), 'A2', T + 10);
    w.tokens[2]!.doc = finish(claim(fresh('c'), 'C1', T), 0, T + 1);
    const text = verdict(w).violations.join('\n');
    expect(text).toMatch(/token a: status locked/);
    expect(text).toMatch(/token c: status done.*expected error/);
  });

  it('flags a run nobody recorded, and a lease that ran its payload twice', () => {
    const w = cleanWorld();
    w.ledger.push(start('a', 7, 'r9', 9), start('c', 1, 'r10', 9));
    const text = verdict(w).violations.join('\n');
    expect(text).toMatch(/attempt 7 ran unnoticed/);
    expect(text).toMatch(/c attempt 1 ran its payload twice/);
  });

  it('flags logs attached by a pilot whose lease had expired', () => {
    const w = cleanWorld();
    const doc = w.tokens[0]!.doc;
    doc._attachments = {
      ...doc._attachments,
      [logAttachmentName(1, 'stdout')]: { stub: true, content_type: 'text/plain', length: 1 },
    };
    expect(verdict(w).violations.join('\n')).toMatch(/attempt 1 lost its lease yet attached its logs/);
  });

  it('flags an unreadable ledger and a committed run missing from it', () => {
    const w = cleanWorld();
    w.ledger = w.ledger.filter((l) => !l.includes(' r2 ')).concat('garbage');
    const text = verdict(w).violations.join('\n');
    expect(text).toMatch(/unreadable ledger line/);
    expect(text).toMatch(/committed run r2 is not in the ledger/);
  });
});
