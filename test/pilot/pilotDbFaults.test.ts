import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type HttpFaultProxy, startHttpFaultProxy } from '../chaos/support/httpFaultProxy';
import { createPilotWorld, demoTokens } from '../helpers/pilotWorld';

const proxies: HttpFaultProxy[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
});

describe('pilot against a flaky database connection (real processes)', () => {
  it('connections reset while it fetches the token attachments: waited out, the token is done', async () => {
    const world = await createPilotWorld({ type: 'flakyin', tokens: demoTokens('flakyin', 1) });
    let broken = 0;
    const proxy = await startHttpFaultProxy(world.db.baseUrl, (req) => {
      if (req.method === 'GET' && req.url?.endsWith('/srm.txt') && broken < 2) {
        broken++;
        return 'reset';
      }
      return undefined;
    });
    proxies.push(proxy);
    const log = join(world.dir, 'pilot.log');
    const result = await world.startPilot(['--log', log], {
      PICAS_URL: proxy.via(world.env.PICAS_URL!),
    });
    expect(result.exitCode, result.all).toBe(0);
    expect(broken).toBe(2);
    const token = await world.token('t_flakyin_L1_SB000');
    expect(token.status, String(token.launcher_status)).toBe('done');
    expect(await readFile(log, 'utf8')).toMatch(/inputs of token t_flakyin_L1_SB000: database unavailable/);
    expect(await world.ledgerLines()).toEqual(['t_flakyin_L1_SB000']);
  });
});

describe('pilot when the database acts but the reply is lost', () => {
  it('claim and finish replies lost: the pilot sees its own writes, processes the token once, reports it done', async () => {
    const world = await createPilotWorld({ type: 'lostreply', tokens: demoTokens('lostreply', 1) });
    const lost: string[] = [];
    const proxy = await startHttpFaultProxy(world.db.baseUrl, (req, body) => {
      // nano writes a document as POST /db with the doc (its _id and _rev) as the body.
      if (req.method !== 'POST' && req.method !== 'PUT') return undefined;
      const doc = JSON.parse(body.toString() || '{}') as { _id?: string; status?: string };
      if (doc._id !== 't_lostreply_L1_SB000') return undefined;
      const kind = doc.status === 'locked' ? 'claim' : doc.status === 'done' ? 'finish' : undefined;
      if (!kind || lost.includes(kind)) return undefined;
      lost.push(kind);
      return 'lose-reply';
    });
    proxies.push(proxy);
    // Lease of 600 s: a claim the pilot failed to recognise would leave the token locked that long.
    const result = await world.startPilot(['--json'], { PICAS_URL: proxy.via(world.env.PICAS_URL!) });
    expect(result.exitCode, result.all).toBe(0);
    expect(lost).toEqual(['claim', 'finish']);
    const summary = JSON.parse(result.stdout) as { claimed: number; done: number; lost: number };
    expect(summary).toMatchObject({ claimed: 1, done: 1, lost: 0 });
    const token = await world.token('t_lostreply_L1_SB000');
    expect(token.status).toBe('done');
    expect((token.attempts as unknown[]).length).toBe(1);
    expect(await world.ledgerLines()).toEqual(['t_lostreply_L1_SB000']);
  });
});
