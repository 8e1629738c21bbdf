import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLrtError } from '../../src/core';
import { openPicas, type PicasDb } from '../../src/picas/client';
import { claimToken, fencedUpdate, finishPatch, leaseOf } from '../../src/picas/protocol';
import { type HttpFault, type HttpFaultProxy, startHttpFaultProxy } from '../chaos/support/httpFaultProxy';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import { getDoc, picasFor, putDesignDoc, seedTokens } from '../helpers/seedTokens';

/**
 * Writes whose reply is lost (the server acted, the connection dropped before the answer): the
 * claim and the fenced update find out from the token itself whether their write landed.
 */

const TYPE = 'lostreply';
const T0 = 1_700_000_000;

let t: TestDatabase;
let direct: PicasDb;
let proxy: HttpFaultProxy;
let viaProxy: PicasDb;
/** What the proxy does to the next document write (POST /db or PUT /db/id); reset after use. */
let nextWrite: HttpFault;
let writesBroken = 0;

beforeEach(async () => {
  t = await createTestDatabase('lrt_lostreply');
  direct = picasFor(t);
  await putDesignDoc(t, TYPE);
  await seedTokens(t, TYPE, 1);
  nextWrite = undefined;
  writesBroken = 0;
  proxy = await startHttpFaultProxy(t.baseUrl, (req) => {
    if ((req.method !== 'POST' && req.method !== 'PUT') || !nextWrite) return undefined;
    const fault = nextWrite;
    nextWrite = undefined;
    writesBroken++;
    return fault;
  });
  viaProxy = openPicas({ ...direct.settings, url: proxy.via(t.baseUrl) });
});
afterEach(async () => {
  await proxy?.close();
  await t?.drop();
});

const claimOptions = {
  pilotId: 'pilot-A',
  host: 'wn-a',
  leaseSeconds: 600,
  maxAttempts: 3,
  clock: () => T0 * 1000,
};

describe('claim whose reply is lost', () => {
  it('the claim landed: the token is ours at once, not locked for a lease nobody holds', async () => {
    nextWrite = 'lose-reply';
    const claimed = await claimToken(viaProxy, TYPE, claimOptions);
    expect(writesBroken).toBe(1);
    expect(claimed).not.toBeNull();
    const stored = await getDoc(t, claimed!.doc._id);
    expect(leaseOf(stored)?.id).toBe(claimed!.leaseId);
    expect(stored._rev).toBe(claimed!.doc._rev);
  });

  it('the request never arrived: the error is the transient one, the token still free', async () => {
    nextWrite = 'reset';
    const err = await claimToken(viaProxy, TYPE, claimOptions).catch((e: unknown) => e);
    expect(isLrtError(err, 'E_DB_UNREACHABLE'), String(err)).toBe(true);
    const [id] = (await direct.db.list()).rows.map((r) => r.id).filter((i) => !i.startsWith('_design'));
    const stored = await getDoc(t, id!);
    expect(stored.lock).toBe(0);
    expect(stored.lease).toBeUndefined();
  });
});

describe('fenced update whose reply is lost', () => {
  const finish = (leaseId: string) => (doc: Parameters<typeof finishPatch>[0]) =>
    finishPatch(doc, leaseId, { now: T0 + 5, exitCode: 0, ok: true, phase: 'running' });

  it('the finish landed: reported as written (not as the lease taken away)', async () => {
    const claimed = (await claimToken(direct, TYPE, claimOptions))!;
    nextWrite = 'lose-reply';
    const result = await fencedUpdate(viaProxy, claimed.doc._id, claimed.leaseId, finish(claimed.leaseId), {
      current: claimed.doc,
    });
    expect(writesBroken).toBe(1);
    expect('doc' in result && result.doc.status).toBe('done');
    const stored = await getDoc(t, claimed.doc._id);
    expect(stored.status).toBe('done');
    expect('doc' in result && result.doc._rev).toBe(stored._rev);
  });

  it('the finish never arrived: the transient error, and the token still under our lease', async () => {
    const claimed = (await claimToken(direct, TYPE, claimOptions))!;
    nextWrite = 'reset';
    const err = await fencedUpdate(viaProxy, claimed.doc._id, claimed.leaseId, finish(claimed.leaseId), {
      current: claimed.doc,
    }).catch((e: unknown) => e);
    expect(isLrtError(err, 'E_DB_UNREACHABLE'), String(err)).toBe(true);
    const stored = await getDoc(t, claimed.doc._id);
    expect(leaseOf(stored)?.id).toBe(claimed.leaseId);
    expect(stored.status).toBe('locked');
  });
});
