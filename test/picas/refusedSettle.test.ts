import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LrtError } from '../../src/core';
import { type CouchCluster, startCouchCluster } from '../../src/dbserver';
import { gotNoReply, openPicas, type PicasDb, statusOf } from '../../src/picas/client';
import { splitUrlCredentials } from '../../src/picas/connectionSettings';
import { fencedUpdate, heartbeatPatch, writeClaim } from '../../src/picas/protocol';
import { type TokenDoc, tokenToDoc } from '../../src/picas/tokenDoc';
import { startHttpFaultProxy } from '../chaos/support/httpFaultProxy';
import { type Client, clientFor } from '../dbserver/clusterClient';
import { failure } from '../helpers/errors';
import { LOCKOUT_REASON } from '../helpers/lockoutServer';

/*
 * On a cluster every write is settled by a read of its leaves (docs/protocol.md, Cluster rules 3).
 * When the account is locked between the write and that read, the refusal must end the operation:
 * a refused login is never asked again (CouchDB 3.4+ counts every one towards the lock). It once
 * was taken for a write whose reply never came, and the settling read was sent a second time.
 */

const T0 = 1_700_000_000;
const LEASE = 'lease-of-pilot-A';

let cluster: CouchCluster;
let front: Client;
let db: string;

beforeAll(async () => {
  cluster = await startCouchCluster({ nodes: 3 });
  front = clientFor(cluster.urls[0]!);
});
afterEach(async () => {
  if (db) await front('DELETE', `/${db}`);
});
afterAll(async () => cluster?.close());

/**
 * A database on the cluster, reached through a proxy that answers every settling read
 * (`open_revs`) with CouchDB's locked-account 403, as if the lock began right after the write.
 */
async function lockedAtTheSettlingRead(): Promise<{
  picas: PicasDb;
  requests: string[];
  close(): Promise<void>;
}> {
  db = `refused_${randomUUID().slice(0, 8)}`;
  expect((await front('PUT', `/${db}`)).status).toBe(201);
  const requests: string[] = [];
  const proxy = await startHttpFaultProxy(
    cluster.urls[0]!,
    (req) => {
      if (!req.url?.includes('open_revs')) return undefined;
      requests.push(`${req.method} ${req.url} 403`);
      return { status: 403, json: { error: 'forbidden', reason: LOCKOUT_REASON } };
    },
    { onReply: (req, status) => requests.push(`${req.method} ${req.url} ${status}`) },
  );
  const { url, user, password } = splitUrlCredentials(proxy.via(cluster.urls[0]!));
  return { picas: openPicas({ url, database: db, user, password }), requests, close: proxy.close };
}

function leasedToken(id: string): TokenDoc {
  return {
    _id: id,
    type: 'refused',
    lock: T0,
    done: 0,
    status: 'locked',
    lease: {
      id: LEASE,
      pilot: 'pilot-A',
      host: 'wn-a.grid',
      expires: T0 + 60,
      renewed: T0,
      attempt: 1,
      lock: T0,
    },
    extra: {},
  };
}

describe('a refusal while a cluster write is settled', () => {
  it('a lease renewal: E_DB_AUTH naming the lock, and the settling read is not sent again', async () => {
    const { picas, requests, close } = await lockedAtTheSettlingRead();
    try {
      const id = 't_renew';
      expect((await front('PUT', `/${db}/${id}?w=3`, tokenToDoc(leasedToken(id)))).status).toBe(201);

      const err = await failure(
        fencedUpdate(picas, id, LEASE, (doc) =>
          heartbeatPatch(doc, LEASE, { now: T0 + 20, leaseSeconds: 60 }),
        ),
      );
      expect(err.code).toBe('E_DB_AUTH');
      expect(err.message).toContain('has locked the account');
      expect(requests.filter((r) => r.endsWith(' 403'))).toHaveLength(1);
      expect(requests.filter((r) => r.startsWith('PUT '))).toHaveLength(1);
    } finally {
      await close();
    }
  });

  it('a claim: E_DB_AUTH, and the claim is not settled a second time', async () => {
    const { picas, requests, close } = await lockedAtTheSettlingRead();
    try {
      const id = 't_claim';
      const created = await front('PUT', `/${db}/${id}?w=3`, { type: 'refused', lock: 0, done: 0 });
      const claim = { ...leasedToken(id), _rev: created.body.rev as string };

      const err = await failure(writeClaim(picas, claim, LEASE));
      expect(err.code).toBe('E_DB_AUTH');
      expect(requests.filter((r) => r.endsWith(' 403'))).toHaveLength(1);
    } finally {
      await close();
    }
  });
});

describe('gotNoReply and statusOf', () => {
  it('read the status of an error already wrapped, and take no wrapped answer for a missing reply', () => {
    const wrappedRefusal = new LrtError('E_DB_AUTH', 'locked', { details: { status: 403 } });
    expect(statusOf(wrappedRefusal)).toBe(403);
    expect(gotNoReply(wrappedRefusal)).toBe(false);
    expect(gotNoReply(new LrtError('E_CONFLICT', 'still conflicted', { details: { token: 't' } }))).toBe(
      false,
    );
    expect(gotNoReply(new LrtError('E_DB_UNREACHABLE', 'ECONNRESET', { details: {} }))).toBe(true);
    expect(gotNoReply(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true);
    expect(gotNoReply(Object.assign(new Error('conflict'), { statusCode: 409 }))).toBe(false);
  });
});
