import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLrtError, type LrtError } from '../../src/core';
import type { PicasDb } from '../../src/picas/client';
import {
  type ClaimedToken,
  fencedUpdate,
  finishPatch,
  heartbeatPatch,
  type Lease,
  reclaimPatch,
  setStatusPatch,
} from '../../src/picas/protocol';
import { fence, takenOverBy } from '../../src/picas/protocol/leaseRecord';
import { type TokenDoc, tokenFromDoc } from '../../src/picas/tokenDoc';
import { oneClaimedToken } from '../helpers/claimedToken';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import { type PicasWrite, picasClaim, picasClose } from '../helpers/picasclientWorker';
import { CouchdbPythonDatabase, pyServerOf } from '../helpers/pythonClients';

/*
 * Another tool takes our token (docs/protocol.md, Take-over by another tool): picasclient's claim
 * rewrites `lock` and `hostname` and leaves our lease in place. The fence must see it, and our
 * pilot must then write nothing.
 */

const T0 = 1_700_000_000;
const lease: Lease = {
  id: 'L1',
  pilot: 'p',
  host: 'wn-a',
  expires: T0 + 60,
  renewed: T0,
  attempt: 1,
  lock: T0,
};
const held = (extra: Record<string, unknown> = {}): TokenDoc =>
  tokenFromDoc({
    _id: 't1',
    type: 'x',
    lock: T0,
    done: 0,
    hostname: 'wn-a',
    status: 'running',
    lease,
    ...extra,
  });

describe('the fence (pure)', () => {
  it('passes our own token, renewed and in any phase', () => {
    expect(fence(held(), 'L1')).toEqual(lease);
    const renewed = heartbeatPatch(held(), 'L1', { now: T0 + 20, leaseSeconds: 60, phase: 'running' });
    expect('doc' in renewed && fence(renewed.doc, 'L1')).toMatchObject({ id: 'L1', lock: T0 });
  });

  it('reports a new lock or a new hostname as a take-over by that host', () => {
    expect(fence(held({ lock: T0 + 5, hostname: 'picas-wn-7' }), 'L1')).toEqual({
      lost: true,
      holder: 'L1',
      takenOverBy: 'picas-wn-7',
    });
    // Same host (two workers on one node), other second: the lock alone tells.
    expect(takenOverBy(held({ lock: T0 + 1 }), lease)).toBe('wn-a');
    // Same second, other host: the hostname alone tells.
    expect(takenOverBy(held({ hostname: 'picas-wn-7' }), lease)).toBe('picas-wn-7');
  });

  it('judges a lease written before `lease.lock` existed by the host alone', () => {
    const { lock: _lock, ...old } = lease;
    expect(takenOverBy(held({ lease: old, lock: T0 + 9 }), old)).toBeUndefined();
    expect(takenOverBy(held({ lease: old, hostname: 'other' }), old)).toBe('other');
  });

  it('finish and renew refuse a taken-over token', () => {
    const taken = held({ lock: T0 + 5, hostname: 'picas-wn-7' });
    expect(finishPatch(taken, 'L1', { now: T0 + 30, exitCode: 0, ok: true, phase: 'running' })).toMatchObject(
      {
        lost: true,
        takenOverBy: 'picas-wn-7',
      },
    );
    expect(heartbeatPatch(taken, 'L1', { now: T0 + 30, leaseSeconds: 60 })).toMatchObject({ lost: true });
  });

  it('a reclaim leaves a taken-over token to the tool that holds it, even once our lease expired', () => {
    const taken = held({ lock: T0 + 5, hostname: 'picas-wn-7' });
    const input = {
      leaseId: 'L2',
      pilot: 'q',
      host: 'wn-b',
      jobIds: {},
      now: T0 + 600,
      leaseSeconds: 60,
      maxAttempts: 3,
    };
    expect(reclaimPatch(taken, input)).toEqual({
      skip: 'token t1 was taken over by another tool (lock changed by picas-wn-7)',
    });
    expect(reclaimPatch(held(), input)).toMatchObject({ outcome: 'claimed' });
  });

  it("`lrt tokens set-status locked` keeps a held token's lock, so its pilot is not told it was taken over", () => {
    const patched = setStatusPatch(held(), 'locked', T0 + 100);
    expect('doc' in patched && patched.doc.lock).toBe(T0);
    expect('doc' in patched && fence(patched.doc, 'L1')).toMatchObject({ id: 'L1' });
  });
});

describe('fencedUpdate after picasclient took the token (real server)', () => {
  const TYPE = 'takeover';
  let t: TestDatabase;
  let picas: PicasDb;
  let claim: ClaimedToken;
  let python: CouchdbPythonDatabase;

  beforeEach(async () => {
    t = await createTestDatabase('lrt_takeover');
    ({ picas, claim } = await oneClaimedToken(t, TYPE));
    python = new CouchdbPythonDatabase(pyServerOf(t));
  });
  afterEach(async () => t?.drop());

  async function lostError(promise: Promise<unknown>): Promise<LrtError> {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!isLrtError(err, 'E_LEASE_LOST')) throw new Error(`expected E_LEASE_LOST, got ${String(err)}`);
    return err;
  }

  it('a renewal and a finish after the re-lock fail with "taken over by another tool" and write nothing', async () => {
    const id = claim.doc._id;
    const writes: PicasWrite[] = [];
    // picasclient read `todo` before our claim landed: it GETs and re-locks the token we hold.
    const doc = await python.get(id);
    doc!.lock = Number(claim.doc.lock) + 1;
    doc!.hostname = 'picas-wn-7';
    const { rev } = await python.save(doc!);
    writes.push({ id, rev: rev!, kind: 'lock', hostname: 'picas-wn-7' });

    const now = Math.floor(Date.now() / 1000);
    const renewal = await lostError(
      fencedUpdate(
        picas,
        id,
        claim.leaseId,
        (d) => heartbeatPatch(d, claim.leaseId, { now, leaseSeconds: 60 }),
        {
          current: claim.doc,
        },
      ),
    );
    expect(renewal.message).toBe(`token ${id} taken over by another tool (lock changed by picas-wn-7)`);
    expect(renewal.details).toMatchObject({ takenOverBy: 'picas-wn-7' });

    await picasClose({ db: python, designDoc: TYPE, hostname: 'picas-wn-7', workSeconds: 0, writes }, doc!);
    const finish = await lostError(
      fencedUpdate(picas, id, claim.leaseId, (d) =>
        finishPatch(d, claim.leaseId, { now, exitCode: 0, ok: true, phase: 'running' }),
      ),
    );
    expect(finish.message).toContain('taken over by another tool (lock changed by picas-wn-7)');
    const final = await python.get(id);
    expect(final?._rev).toBe(writes.at(-1)?.rev);
    expect(final).toMatchObject({ done: expect.any(Number), exit_code: 0, hostname: 'picas-wn-7' });
  });

  it('picasclient re-locks a token it reads from a page taken before our claim (its bug, kept)', async () => {
    // The view page no longer lists the token (we hold it): picasclient's claim finds nothing.
    const writes: PicasWrite[] = [];
    const options = { db: python, designDoc: TYPE, hostname: 'picas-wn-7', workSeconds: 0, writes };
    expect(await picasClaim(options)).toBeUndefined();
    expect(writes).toEqual([]);
  });
});
