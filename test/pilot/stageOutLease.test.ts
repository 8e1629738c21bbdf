import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { leaseOf } from '../../src/picas/protocol';
import { waitFor } from '../helpers/pilotWorld';
import { createSteeredWorld, nextWrite, steeredPayload, summaryOf } from './support/leaseWorld';
import { startTcpFaultProxy, type TcpFaultProxy } from './support/tcpFaultProxy';

/*
 * Real pilot processes (dist/pilot.js: `npm run build` first). Lease 12 s: the lease is renewed
 * every 4 s and given up with 4 s left, so when the payload ends just after a renewal, 7-8 s of
 * lease remain: enough for a file:// stage-out, were it not that the pilot renews the lease first.
 */

const proxies: TcpFaultProxy[] = [];
afterEach(async () => {
  for (const proxy of proxies.splice(0)) await proxy.close();
});

describe('lease safety: stage-out only right after a renewal', () => {
  it('the renewal before stage-out fails: nothing is uploaded or written; a later pilot uploads', async () => {
    const world = await createSteeredWorld('stageout');
    const results = join(world.dir, 'results');
    const id = 't_stageout';
    await world.picas.db.insert({
      ...(await world.token(id)),
      stage_out: { dir: 'Output', to: `file://${results}` },
    });
    const payload = steeredPayload(world, 'stageout');
    const proxy = await startTcpFaultProxy(world.db.baseUrl);
    proxies.push(proxy);
    const first = world.startPilot(['--lease', '12', '--max-tokens', '1', '--json'], {
      ...payload.env,
      PICAS_URL: proxy.via(world.env.PICAS_URL!),
    });
    await payload.started();
    const renewed = await nextWrite(world, id, (await world.token(id))._rev);
    // The payload succeeds just after a renewal, and the database stops answering at that moment.
    proxy.setMode('hang');
    await payload.release();
    let log = '';
    first.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    await waitFor(
      async () => (log.includes('lease lost') ? true : undefined),
      30_000,
      'the pilot to give up',
    );
    // The database is back: a pilot that gave up writes nothing, not even its logs.
    proxy.setMode('pass');

    const result = await first;
    expect(result.exitCode, result.all).toBe(0);
    const summary = summaryOf(result.stdout);
    expect(summary).toMatchObject({ claimed: 1, lost: 1, done: 0 });
    expect(summary.tokens[0]?.reason).toMatch(/^token t_stageout: lease not renewed/);
    expect(await world.ledgerLines()).toEqual([id]);
    expect(log).toContain('phase uploading');
    expect(existsSync(results)).toBe(false);
    expect(proxy.requests.hang.length).toBeGreaterThan(0);
    const token = await world.token(id);
    expect(leaseOf(token)?.id).toBe(leaseOf(renewed)?.id);
    expect(token.status).not.toBe('done');
    expect(Object.keys(token._attachments ?? {})).toEqual([]);

    // The lease runs out; another pilot takes the token over, runs it and uploads.
    const second = await world.startPilot(
      ['--lease', '12', '--wait', '--poll', '0.5', '--max-tokens', '1', '--json'],
      payload.env,
    );
    expect(second.exitCode, second.all).toBe(0);
    expect(summaryOf(second.stdout)).toMatchObject({ claimed: 1, done: 1 });
    const done = await world.token(id);
    expect(done.status).toBe('done');
    expect(done.scrub_count).toBe(1);
    expect(await readdir(results)).toEqual(['result.txt']);
    expect(await readFile(join(results, 'result.txt'), 'utf8')).toBe(`result of ${id}\n`);
  }, 90_000);
});
