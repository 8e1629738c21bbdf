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

  it('a refused renewal (401) is never retried: the payload stops at once, the pilot exits 4', async () => {
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
    const result = await pilot;
    expect(result.exitCode, result.all).toBe(4);
    // One refused request, then nothing: no renewal retry, no final write, no next claim.
    expect(proxy.requests.unauthorized).toHaveLength(1);
    expect(result.stderr).toMatch(/HTTP 401\): wrong user or password/);
    expect(result.stderr).toContain('The pilot stopped at once and does not retry');
    expect((await world.token(id))._rev).toBe(token._rev);
    expect(await world.ledgerLines()).toEqual([]);
  });
});
