import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import type { LrtError } from '../../src/core';
import type { PicasDb } from '../../src/picas/client';
import {
  type ClaimedToken,
  fencedUpdate,
  finishPatch,
  heartbeatPatch,
  type Lease,
  releasePatch,
} from '../../src/picas/protocol';
import type { TokenDoc } from '../../src/picas/tokenDoc';
import { oneClaimedToken } from '../helpers/claimedToken';
import { adminAuthHeader, createTestDatabase, type TestDatabase } from '../helpers/couch';
import { failure } from '../helpers/errors';
import { getDoc, updateDoc } from '../helpers/seedTokens';

const onCluster = inject('couchKind') === 'cluster';

const TYPE = 'pref_cal2';
const T0 = 1_700_000_000;

let t: TestDatabase;
let picas: PicasDb;
let claim: ClaimedToken;

beforeEach(async () => {
  t = await createTestDatabase('lrt_fence');
  ({ picas, claim } = await oneClaimedToken(t, TYPE, { clock: () => T0 * 1000 }));
});
afterEach(async () => t?.drop());

const beat =
  (now: number, extra: Partial<Parameters<typeof heartbeatPatch>[2]> = {}) =>
  (doc: TokenDoc) =>
    heartbeatPatch(doc, claim.leaseId, { now, leaseSeconds: 60, ...extra });

const generation = (rev: string | undefined) => Number(rev?.split('-')[0]);

describe('fencedUpdate', () => {
  it('writes a heartbeat under our lease', async () => {
    const result = await fencedUpdate(
      picas,
      claim.doc._id,
      claim.leaseId,
      beat(T0 + 20, { phase: 'downloading' }),
    );
    const stored = await getDoc(t, claim.doc._id);
    expect('doc' in result && result.doc._rev).toBe(stored._rev);
    expect(stored.lease).toMatchObject({ id: claim.leaseId, expires: T0 + 80, renewed: T0 + 20 });
    expect(stored.status).toBe('downloading');
  });

  it('after someone else took the token: E_LEASE_LOST naming both leases, and nothing written', async () => {
    const id = claim.doc._id;
    await updateDoc(t, id, (doc) => ({ lease: { ...(doc.lease as Lease), id: 'lease-of-pilot-B' } }));
    const before = await getDoc(t, id);

    const err = await failure(fencedUpdate(picas, id, claim.leaseId, beat(T0 + 20, { progress: 0.5 })));
    expect(err.code).toBe('E_LEASE_LOST');
    expect(err.message).toBe(
      `token ${id} was taken away: lease ${claim.leaseId} replaced by lease-of-pilot-B`,
    );

    const finish = (doc: TokenDoc) =>
      finishPatch(doc, claim.leaseId, { now: T0 + 30, exitCode: 0, ok: true, phase: 'x' });
    expect((await failure(fencedUpdate(picas, id, claim.leaseId, finish, { current: claim.doc }))).code).toBe(
      'E_LEASE_LOST',
    );

    const after = await getDoc(t, id);
    expect(after._rev).toBe(before._rev);
    expect(after).toEqual(before);
  });

  it('after a login-side reset or a deletion the lease is replaced by none', async () => {
    const id = claim.doc._id;
    await updateDoc(t, id, (doc) => {
      const { lease: _gone, ...rest } = doc;
      return { ...rest, lease: undefined, lock: 0, done: 0, status: 'todo', scrub_count: 1 };
    });
    const reset = await failure(fencedUpdate(picas, id, claim.leaseId, beat(T0 + 5)));
    expect(reset.message).toBe(`token ${id} was taken away: lease ${claim.leaseId} replaced by none`);

    const doc = await getDoc(t, id);
    const del = await fetch(`${t.baseUrl}/${t.name}/${id}?rev=${doc._rev}`, {
      method: 'DELETE',
      headers: { authorization: adminAuthHeader() },
    });
    expect(del.status).toBeLessThan(300);
    const deleted = await failure(fencedUpdate(picas, id, claim.leaseId, beat(T0 + 6)));
    expect(deleted.code).toBe('E_LEASE_LOST');
    expect(deleted.message).toContain('deleted');
  });

  it('a finished token refuses later writes: finish removed the lease', async () => {
    const id = claim.doc._id;
    const finish = (doc: TokenDoc) =>
      finishPatch(doc, claim.leaseId, { now: T0 + 9, exitCode: 0, ok: true, phase: 'running' });
    await fencedUpdate(picas, id, claim.leaseId, finish);
    expect((await failure(fencedUpdate(picas, id, claim.leaseId, beat(T0 + 10)))).code).toBe('E_LEASE_LOST');
    const release = (doc: TokenDoc) => releasePatch(doc, claim.leaseId, { now: T0 + 11, reason: 'SIGTERM' });
    expect((await failure(fencedUpdate(picas, id, claim.leaseId, release))).code).toBe('E_LEASE_LOST');
    expect(await getDoc(t, id)).toMatchObject({ status: 'done', done: T0 + 9 });
  });

  it('retries a 409 from an unrelated write and keeps that write', async () => {
    const id = claim.doc._id;
    await updateDoc(t, id, () => ({ note: 'added by the login node' }));
    // claim.doc is now stale: its _rev makes the first PUT fail with 409. On a cluster the fenced
    // update never writes on a cached copy (docs/protocol.md, Cluster rules): it reads first.
    const result = await fencedUpdate(picas, id, claim.leaseId, beat(T0 + 20, { progress: 0.25 }), {
      current: claim.doc,
    });
    expect(result.conflicts).toBe(onCluster ? 0 : 1);
    const stored = await getDoc(t, id);
    expect(stored).toMatchObject({ note: 'added by the login node', progress: 0.25 });
    expect((stored.lease as Lease).renewed).toBe(T0 + 20);
  });

  it('gives up with E_CONFLICT when the retries run out', async () => {
    const id = claim.doc._id;
    await updateDoc(t, id, () => ({ note: 'x' }));
    const attempt = () =>
      fencedUpdate(picas, id, claim.leaseId, beat(T0 + 1), { current: claim.doc, retries: 0 }).then(
        () => undefined,
        (e: unknown) => e as LrtError,
      );
    let err = await attempt();
    if (onCluster) {
      // A cluster reads before it writes: race a busy writer until a PUT meets its 409 (bounded).
      const writing = { on: true };
      const writer = (async () => {
        for (let i = 0; writing.on && i < 2000; i++) await updateDoc(t, id, () => ({ note: i }));
      })();
      for (let i = 0; !err && i < 500; i++) err = await attempt();
      writing.on = false;
      await writer;
    }
    expect(err?.code).toBe('E_CONFLICT');
    expect(err?.message).toContain(id);
  });

  // On the cluster stand-in, the hard case of settling: several writers on one token and replicas
  // that have not yet received the revision they write on.
  it('heartbeats and unrelated writers running at the same time all land, each exactly once', async () => {
    const id = claim.doc._id;
    const start = generation((await getDoc(t, id))._rev);
    const beats = Array.from({ length: 10 }, (_, i) =>
      fencedUpdate(picas, id, claim.leaseId, beat(T0 + 10 + i, { progress: i / 10 })),
    );
    const others = Array.from({ length: 10 }, (_, i) => updateDoc(t, id, () => ({ [`note_${i}`]: i })));
    const results = await Promise.all(beats);
    await Promise.all(others);

    const stored = await getDoc(t, id);
    expect(generation(stored._rev)).toBe(start + 20);
    for (let i = 0; i < 10; i++) expect(stored[`note_${i}`]).toBe(i);
    expect((stored.lease as Lease).id).toBe(claim.leaseId);
    expect(results.every((r) => 'doc' in r)).toBe(true);
  });
});
