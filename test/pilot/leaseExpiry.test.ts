import { afterEach, describe, expect, it } from 'vitest';
import { listAttachments } from '../../src/picas/attachments';
import { leaseOf } from '../../src/picas/protocol';
import { createSteeredWorld, groupGoneAt, nextWrite, steeredPayload, summaryOf } from './support/leaseWorld';
import { startTcpFaultProxy, type TcpFaultProxy } from './support/tcpFaultProxy';

/*
 * Real pilot processes (dist/pilot.js: `npm run build` first) against the test database through a
 * proxy that stops answering. Lease 12 s: renewals every 4 s, the payload stopped with 4 s of the
 * lease left (KILL at most 2 s after TERM), so the database (on this host: same clock) sees the
 * payload gone before `lease.expires`.
 */

const proxies: TcpFaultProxy[] = [];
afterEach(async () => {
  for (const proxy of proxies.splice(0)) await proxy.close();
});

async function attachmentNames(world: Awaited<ReturnType<typeof createSteeredWorld>>, id: string) {
  return (await listAttachments(world.picas, id)).map((a) => a.name);
}

describe('lease safety: a pilot that cannot renew stops its payload before the lease runs out', () => {
  it('database stops answering: payload (ignoring TERM, --grace 30) KILLed before expiry, nothing written after', async () => {
    const world = await createSteeredWorld('hangs');
    const id = 't_hangs';
    const payload = steeredPayload(world, 'hangs');
    const proxy = await startTcpFaultProxy(world.db.baseUrl);
    proxies.push(proxy);
    const pilot = world.startPilot(['--lease', '12', '--grace', '30', '--max-tokens', '1', '--json'], {
      ...payload.env,
      IGNORE_TERM: '1',
      PICAS_URL: proxy.via(world.env.PICAS_URL!),
    });
    const pgid = await payload.started();
    const renewed = await nextWrite(world, id, (await world.token(id))._rev);
    proxy.setMode('hang');
    const holder = leaseOf(renewed)!;

    const goneAt = await groupGoneAt(pgid);
    const token = await world.token(id);
    const expires = leaseOf(token)!.expires;
    // The last lease the database holds (a renewal may have landed as the proxy closed).
    expect(goneAt).toBeLessThan(expires * 1000);
    expect(proxy.requests.hang.length).toBeGreaterThan(0);

    // The database is back: a pilot that gave up writes nothing, not even its logs.
    proxy.setMode('pass');
    const result = await pilot;
    expect(result.exitCode, result.all).toBe(0);
    const summary = summaryOf(result.stdout);
    expect(summary).toMatchObject({ claimed: 1, lost: 1, done: 0 });
    expect(summary.tokens[0]?.reason).toMatch(
      /^token t_hangs: lease not renewed for .* nothing staged out or written$/,
    );
    const after = await world.token(id);
    expect(after._rev).toBe(token._rev);
    expect(leaseOf(after)?.id).toBe(holder.id);
    expect(await attachmentNames(world, id)).toEqual([]);
    expect(await world.ledgerLines()).toEqual([]);
  });

  it('refused logins (401) count as failed renewals but are not retried faster than every lease/3', async () => {
    const world = await createSteeredWorld('refused');
    const id = 't_refused';
    const payload = steeredPayload(world, 'refused');
    const proxy = await startTcpFaultProxy(world.db.baseUrl);
    proxies.push(proxy);
    const pilot = world.startPilot(['--lease', '12', '--max-tokens', '1', '--json'], {
      ...payload.env,
      PICAS_URL: proxy.via(world.env.PICAS_URL!),
    });
    const pgid = await payload.started();
    await nextWrite(world, id, (await world.token(id))._rev);
    proxy.setMode('unauthorized');

    const goneAt = await groupGoneAt(pgid);
    const token = await world.token(id);
    expect(goneAt).toBeLessThan(leaseOf(token)!.expires * 1000);
    // ~8 s from the last renewal to giving up: one 401 at lease/3, the next one lease/3 later at the
    // earliest. Quick retries (0.5-1 s, 1-2 s, 2-4 s) would have made 3 or more.
    expect(proxy.requests.unauthorized.length).toBeGreaterThanOrEqual(1);
    expect(proxy.requests.unauthorized.length).toBeLessThanOrEqual(2);

    const result = await pilot;
    expect(result.exitCode, result.all).toBe(0);
    expect(summaryOf(result.stdout)).toMatchObject({ claimed: 1, lost: 1 });
    expect(result.stderr).toMatch(/HTTP 401/);
    expect(await world.ledgerLines()).toEqual([]);
  });
});
