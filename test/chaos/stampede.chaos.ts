import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PicasDb } from '../../src/picas/client';
import {
  ADMIN,
  openDirect,
  overview,
  readFinalTokens,
  seedChaosDatabase,
  viewCount,
} from './support/chaosDb';
import { percentile, runClaimStampede } from './support/claimStampede';
import { type DbServerProcess, freePort, startDbServer } from './support/dbServer';

const TYPE = 'stampede';
const PILOTS = Number(process.env.STAMPEDE_PILOTS ?? 500);
const TOKENS = Number(process.env.STAMPEDE_TOKENS ?? 5000);

describe(`${PILOTS} pilots starting at once on ${TOKENS} tokens (embedded server in its own process)`, () => {
  let db: DbServerProcess;
  let port: number;
  let password: string;
  let database: string;
  let direct: PicasDb;

  beforeAll(async () => {
    password = randomBytes(12).toString('hex');
    port = await freePort();
    db = await startDbServer({ port, password });
    database = `lrt_stampede_${randomBytes(4).toString('hex')}`;
    direct = openDirect(port, database, password);
    const ids = Array.from({ length: TOKENS }, (_, i) => `t_${TYPE}_L2_SB${String(i).padStart(4, '0')}`);
    await seedChaosDatabase(
      direct,
      TYPE,
      ids.map((id) => ({ id, fields: { OBSID: 'L2' } })),
    );
  });
  afterAll(async () => {
    await db?.kill();
  });

  it('no token claimed twice, no pilot gives up, every token done once', async () => {
    const result = await runClaimStampede(
      PILOTS,
      TYPE,
      () => openDirect(port, database, password),
      async () => (await direct.db.view(TYPE, 'todo', { limit: 1 })).rows.length,
    );
    const doubles = [...result.claims].filter(([, leases]) => leases.length > 1);
    const l = result.latencies;
    const ms = (v: number) => `${v.toFixed(0)} ms`;
    const firsts = l.filter((_, i) => result.first[i]);
    const later = l.filter((_, i) => !result.first[i]);
    console.log(
      [
        `stampede: ${PILOTS} pilots (in one process, as ${ADMIN}) on ${TOKENS} tokens: ${result.claims.size} claimed in ${(result.wallMs / 1000).toFixed(1)} s (${((result.claims.size * 1000) / result.wallMs).toFixed(0)} claims/s)`,
        `  claim latency p50 ${ms(percentile(l, 50))}, p90 ${ms(percentile(l, 90))}, p99 ${ms(percentile(l, 99))}, max ${ms(percentile(l, 100))}`,
        `  ${doubles.length} double claims, ${result.gaveUp.length} pilots gave up, ${result.quitEarly.length} quit while work was left; ${result.races} races lost, ${result.backoffs} backoffs`,
        `  first claim of each pilot (all ${PILOTS} at once): p50 ${ms(percentile(firsts, 50))}, p90 ${ms(percentile(firsts, 90))}, max ${ms(percentile(firsts, 100))}; later claims: p50 ${ms(percentile(later, 50))}, p90 ${ms(percentile(later, 90))}, p99 ${ms(percentile(later, 99))}`,
        ...result.gaveUp.slice(0, 5).map((g) => `  GAVE UP ${g}`),
      ].join('\n'),
    );

    expect(doubles).toEqual([]);
    expect(result.gaveUp).toEqual([]);
    expect(result.quitEarly).toEqual([]);
    expect(result.claims.size).toBe(TOKENS);
    expect(await viewCount(direct, TYPE, 'todo')).toBe(0);
    expect(await viewCount(direct, TYPE, 'locked')).toBe(0);
    expect(await overview(direct, TYPE)).toEqual({ done: TOKENS });
    const final = await readFinalTokens(direct, [...result.claims.keys()]);
    expect(
      final.filter(({ doc }) => doc.status !== 'done' || (doc.attempts as unknown[]).length !== 1),
    ).toEqual([]);
  });
});
