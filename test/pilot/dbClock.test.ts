import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { openPicas, type PicasDb } from '../../src/picas/client';
import { couchCall } from '../../src/picas/couchHttp';
import { type AttemptRecord, claimPatch, leaseOf, writeClaim } from '../../src/picas/protocol';
import { tokenFromDoc } from '../../src/picas/tokenDoc';
import { createPilotWorld, demoTokens, type PilotWorld } from '../helpers/pilotWorld';
import { type DateShiftProxy, startDateShiftProxy } from './support/dateShiftProxy';
import { summaryOf } from './support/leaseWorld';

/*
 * The database's clock as the pilots see it through a proxy that moves the Date header of every
 * reply: an hour ahead, or an hour behind, the clock of this host (and of the tokens written here
 * directly). Lease times must follow the database's clock, whatever the worker node's says.
 */

const HOUR = 3_600_000;
const proxies: DateShiftProxy[] = [];
afterEach(async () => {
  for (const proxy of proxies.splice(0)) await proxy.close();
});

async function shiftedProxy(world: PilotWorld, shiftMs: number) {
  const proxy = await startDateShiftProxy(world.db.baseUrl, shiftMs);
  proxies.push(proxy);
  return proxy;
}

/** Locks token `id` as a pilot that claimed it at `claimedAtMs` for `leaseSeconds` and then died. */
async function lockedByDeadPilot(picas: PicasDb, id: string, claimedAtMs: number, leaseSeconds: number) {
  const leaseId = randomUUID();
  const patched = claimPatch(tokenFromDoc(await picas.db.get(id)), {
    leaseId,
    pilot: 'dead-pilot',
    host: 'gone.example',
    jobIds: {},
    now: Math.floor(claimedAtMs / 1000),
    leaseSeconds,
  });
  if ('skip' in patched) throw new Error(patched.skip);
  const { rev } = await writeClaim(picas, patched.doc, leaseId);
  return { ...patched.doc, _rev: rev };
}

const near = (actualS: number | undefined, expectedMs: number) =>
  expect(Math.abs((actualS ?? 0) * 1000 - expectedMs)).toBeLessThan(5000);

describe('lease times follow the database clock (Date header of its replies)', () => {
  it('openPicas learns the server time from nano replies and from couchHttp replies alike', async () => {
    const world = await createPilotWorld({ type: 'dbclock', tokens: [] });
    const proxy = await shiftedProxy(world, HOUR);
    const settings = {
      url: proxy.via(world.db.baseUrl),
      database: world.db.name,
      user: world.db.user,
      password: world.db.password,
    };

    const viaNano = openPicas(settings);
    expect(Math.abs(viaNano.clock.now() - Date.now())).toBeLessThan(100);
    await viaNano.db.info();
    expect(Math.abs(viaNano.clock.now() - (Date.now() + HOUR))).toBeLessThan(1100);

    const viaCouchHttp = openPicas(settings);
    await couchCall(viaCouchHttp, { method: 'GET', path: [] });
    expect(Math.abs(viaCouchHttp.clock.now() - (Date.now() + HOUR))).toBeLessThan(1100);
  });

  it('database an hour ahead: a lease that ran out by its clock is reclaimed, though not by the local one', async () => {
    const world = await createPilotWorld({ type: 'ahead', tokens: demoTokens('ahead', 1) });
    const id = 't_ahead_L1_SB000';
    // Claimed now by the local clock for 10 minutes: 50 minutes ago by the database's.
    await lockedByDeadPilot(world.picas, id, Date.now(), 600);
    const proxy = await shiftedProxy(world, HOUR);

    const result = await world.startPilot(['--max-tokens', '1', '--json'], {
      PICAS_URL: proxy.via(world.env.PICAS_URL!),
    });
    expect(result.exitCode, result.all).toBe(0);
    expect(summaryOf(result.stdout)).toMatchObject({ claimed: 1, done: 1 });
    const token = await world.token(id);
    expect(token.status).toBe('done');
    expect(token.scrub_count).toBe(1);
    const [dead, ours] = token.attempts as AttemptRecord[];
    expect(dead?.reason).toBe('lease expired');
    // The pilot wrote the database's time, not its own.
    near(dead?.ended, Date.now() + HOUR);
    near(ours?.started, Date.now() + HOUR);
    near((token.times as Record<string, number>).done, Date.now() + HOUR);
    expect(await world.ledgerLines()).toEqual([id]);
  });

  it('database an hour behind: a lease that ran out by the local clock is left alone; new leases run on its time', async () => {
    const world = await createPilotWorld({ type: 'behind', tokens: demoTokens('behind', 2) });
    const heldId = 't_behind_L1_SB000';
    const freeId = 't_behind_L1_SB001';
    // Claimed 11 minutes ago by the local clock for 10 minutes: 49 minutes left by the database's.
    const held = await lockedByDeadPilot(world.picas, heldId, Date.now() - 660_000, 600);
    const proxy = await shiftedProxy(world, -HOUR);

    const pilot = world.startPilot(['--max-tokens', '2', '--json'], {
      PICAS_URL: proxy.via(world.env.PICAS_URL!),
    });
    const result = await pilot;
    expect(result.exitCode, result.all).toBe(0);
    expect(summaryOf(result.stdout)).toMatchObject({ claimed: 1, done: 1 });
    expect((await world.token(heldId))._rev).toBe(held._rev);
    expect(leaseOf(await world.token(heldId))?.pilot).toBe('dead-pilot');

    const done = await world.token(freeId);
    expect(done.status).toBe('done');
    const [attempt] = done.attempts as AttemptRecord[];
    near(attempt?.started, Date.now() - HOUR);
    near(attempt?.ended, Date.now() - HOUR);
    expect(await world.ledgerLines()).toEqual([freeId]);
  });
});
