import { afterEach, describe, expect, it } from 'vitest';
import { createSteeredWorld, nextWrite, steeredPayload, summaryOf } from './support/leaseWorld';
import { startTcpFaultProxy, type TcpFaultProxy } from './support/tcpFaultProxy';

/*
 * Real pilot processes (dist/pilot.js: `npm run build` first) with lease 30 s: renewals every
 * 10 s, a renewal abandoned after 5 s without an answer, retries after 0.5-1 s, 1-2 s, 2-4 s ...,
 * the payload stopped only when 5 s of the lease are left. Each fault starts right after a
 * renewal landed and lasts past the next one, and ends well before the lease is in danger.
 */

const proxies: TcpFaultProxy[] = [];
afterEach(async () => {
  for (const proxy of proxies.splice(0)) await proxy.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Renewal attempts among request times: a renewal whose write got no reply reads the token back
 * at once (fencedUpdate), so requests less than 300 ms apart belong to one attempt; retries are
 * at least 500 ms apart.
 */
function attemptStarts(times: number[]): number[] {
  return times.filter((at, i) => i === 0 || at - times[i - 1]! >= 300);
}

async function runThroughFault(type: string, fault: 'reset' | 'hang', faultMs: number) {
  const world = await createSteeredWorld(type);
  const id = `t_${type}`;
  const payload = steeredPayload(world, type);
  const proxy = await startTcpFaultProxy(world.db.baseUrl);
  proxies.push(proxy);
  const pilot = world.startPilot(['--lease', '30', '--max-tokens', '1', '--json'], {
    ...payload.env,
    PICAS_URL: proxy.via(world.env.PICAS_URL!),
  });
  await payload.started();
  const renewed = await nextWrite(world, id, (await world.token(id))._rev);
  proxy.setMode(fault);
  await sleep(faultMs);
  proxy.setMode('pass');
  const backAt = Date.now();
  const next = await nextWrite(world, id, renewed._rev);
  const renewedAfterMs = Date.now() - backAt;
  await payload.release();
  const result = await pilot;
  return { world, id, proxy, result, next, renewedAfterMs };
}

describe('lease safety: failed renewals are retried quickly', () => {
  it('database restarting (connections reset): retried within seconds, not lease/3 later; the token is done', async () => {
    // The renewal due 10 s after the last one fails, and so do the retries until 13 s.
    const run = await runThroughFault('resets', 'reset', 13_000);
    const attempts = attemptStarts(run.proxy.requests.reset);
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(attempts[1]! - attempts[0]!).toBeLessThan(2000);
    // The next retry comes at most 4 s after the database is back (lease/3 would be 7 s).
    expect(run.renewedAfterMs).toBeLessThan(5000);
    expect(run.result.exitCode, run.result.all).toBe(0);
    expect(summaryOf(run.result.stdout)).toMatchObject({ claimed: 1, done: 1, lost: 0 });
    expect((await run.world.token(run.id)).status).toBe('done');
    expect(await run.world.ledgerLines()).toEqual([run.id]);
  }, 90_000);

  it('database not answering (connection hangs): a renewal is abandoned after 5 s and tried again', async () => {
    const run = await runThroughFault('stalls', 'hang', 17_000);
    const attempts = attemptStarts(run.proxy.requests.hang);
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    // Abandoned at 5 s (undici would have waited 300 s, the dispatcher 60 s), retried 0.5-1 s later.
    expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(5000);
    // Far below undici's 300 s; loose enough for a loaded machine.
    expect(attempts[1]! - attempts[0]!).toBeLessThan(10_000);
    expect(run.renewedAfterMs).toBeLessThan(5000);
    expect(run.result.exitCode, run.result.all).toBe(0);
    expect(summaryOf(run.result.stdout)).toMatchObject({ claimed: 1, done: 1, lost: 0 });
    expect(await run.world.ledgerLines()).toEqual([run.id]);
  }, 90_000);
});
