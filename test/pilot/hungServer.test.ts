import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core';
import { openPicas, type PicasDb } from '../../src/picas/client';
import { couchCall } from '../../src/picas/couchHttp';
import type { TokenDoc } from '../../src/picas/tokenDoc';
import { startHeartbeat } from '../../src/pilot/heartbeat';
import { waitFor } from '../helpers/pilotWorld';

/*
 * A server that accepts TCP connections, reads what comes, and never answers: what a stuck
 * database (or a black-holed route behind a load balancer) looks like to the pilot.
 */

interface HungServer {
  url: string;
  /** When (epoch ms) each request arrived (by its request line). */
  requests: number[];
  close(): Promise<void>;
}

const servers: HungServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function startHungServer(): Promise<HungServer> {
  const sockets = new Set<Socket>();
  const requests: number[] = [];
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (chunk: Buffer) => {
      if (/^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/.test(chunk.toString('latin1', 0, 200))) requests.push(Date.now());
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('hung server: no port');
  const hung: HungServer = {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
  servers.push(hung);
  return hung;
}

function openHung(server: HungServer): PicasDb {
  return openPicas({ url: server.url, database: 'lrt_hung', user: 'u', password: 'p', cluster: 'off' });
}

describe('a hung connection holds no renewal longer than its timeout', () => {
  it('heartbeat: each renewal is abandoned after lease/6 and retried; the lease is given up before it runs out', async () => {
    const server = await startHungServer();
    const picas = openHung(server);
    const started = Date.now();
    const expires = Math.floor(started / 1000) + 12;
    const token: TokenDoc = {
      _id: 't_hung',
      _rev: '2-a',
      type: 'hung',
      lock: Math.floor(started / 1000),
      done: 0,
      lease: { id: 'lease-1', pilot: 'p', host: 'h', expires, renewed: expires - 12, attempt: 1 },
      extra: {},
    };
    let lost: { reason: string; at: number } | undefined;
    const heartbeat = startHeartbeat(
      {
        picas,
        tokenId: 't_hung',
        leaseId: 'lease-1',
        leaseSeconds: 12,
        dbClock: picas.clock.now,
        logger: silentLogger(),
        onLost: (reason) => {
          lost = { reason, at: Date.now() };
        },
      },
      token,
    );
    const gaveUp = await waitFor(async () => lost, 20_000, 'the heartbeat to give up');

    // Lease 12 s: renewal at 4 s, abandoned at 6 s, retried 0.5-1 s later; given up with 4 s left.
    expect(server.requests.length).toBeGreaterThanOrEqual(2);
    const [first, second] = server.requests as [number, number];
    expect(first - started).toBeGreaterThanOrEqual(3900);
    expect(second - first).toBeGreaterThanOrEqual(2400);
    // Slack for a loaded machine; a retry a whole lease/3 later (the old rule) lands at ~6 s.
    expect(second - first).toBeLessThan(4500);
    expect(gaveUp.at).toBeLessThanOrEqual(expires * 1000 - 3900);
    expect(gaveUp.reason).toMatch(
      /^token t_hung: lease not renewed for \d+\.\d s \(failed attempts: \d, last: no answer within 2\.0 s\); stopped with 4\.0 s of the lease left/,
    );

    // Nothing in flight holds it: it stops at once.
    const stopping = Date.now();
    await heartbeat.stop();
    expect(Date.now() - stopping).toBeLessThan(1000); // a request in flight would hold it 2 s
    await expect(heartbeat.renewNow()).rejects.toMatchObject({ code: 'E_LEASE_LOST' });
  }, 30_000);

  it('every request of a PicasDb, nano and couchHttp, fails after the dispatcher header timeout (60 s)', async () => {
    const server = await startHungServer();
    const picas = openHung(server);
    const started = Date.now();
    const failures = await Promise.all([
      picas.db.get('t_1').then(
        () => 'answered',
        () => Date.now() - started,
      ),
      couchCall(picas, { method: 'GET', path: ['t_1'] }).then(
        () => 'answered',
        () => Date.now() - started,
      ),
    ]);
    for (const elapsed of failures) {
      expect(typeof elapsed).toBe('number');
      expect(elapsed).toBeGreaterThanOrEqual(59_000);
      expect(elapsed).toBeLessThan(66_000);
    }
  }, 90_000);
});
