import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeDemoSandbox } from '../../src/demo/demoSandbox';
import type { NewToken } from '../../src/picas/tokens';
import { ADMIN, openDirect, readFinalTokens, seedChaosDatabase, viewCount } from './support/chaosDb';
import { runChaos } from './support/chaosDriver';
import { startChaosProxy } from './support/chaosProxy';
import { freePort, startDbServer } from './support/dbServer';
import { checkChaosInvariants } from './support/invariants';
import { CHAOS_MASTER_SH, parseLedger } from './support/ledger';
import { PilotFleet } from './support/pilotFleet';
import { judgePilots } from './support/pilotVerdict';

const TYPE = 'chaos';
const TOKENS = Number(process.env.CHAOS_TOKENS ?? 2000);
/** One token in 20 runs a payload that exits 3: those must end in error, not be retried to death. */
const failing = (i: number) => i % 20 === 7;

function chaosTokens(sandboxUrl: string): NewToken[] {
  return Array.from({ length: TOKENS }, (_, i) => {
    const sb = String(i).padStart(4, '0');
    return {
      id: `t_${TYPE}_L1_SB${sb}`,
      fields: { SBXloc: sandboxUrl, OBSID: 'L1', STARTSB: sb, CHAOS_FAIL: failing(i) ? '1' : '0' },
      attachments: [
        {
          name: 'srm.txt',
          contentType: 'text/plain',
          data: Buffer.from(
            `srm://srm.grid.sara.nl:8443/pnfs/grid.sara.nl/data/lofar/L1_SB${sb}_uv.MS.tar\n`,
          ),
        },
      ],
    };
  });
}

describe('chaos: pilots killed, stopped, cut off from a restarting database behind a bad network', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    // CHAOS_KEEP=1 keeps the pilots' logs, the ledger and the database for a post-mortem.
    if (process.env.CHAOS_KEEP) console.log(`chaos: kept ${dirs.join(' ')}`);
    else for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('loses no token, commits only the finishing lease, and every pilot that lost the database goes on', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lrt-chaos-'));
    dirs.push(dir);
    const password = randomBytes(12).toString('hex');
    const port = await freePort();
    const dataDir = join(dir, 'couch');
    const db = {
      current: await startDbServer({ port, dataDir, password }),
      restart: () => startDbServer({ port, dataDir, password, startTimeoutMs: 60_000 }),
    };
    const proxy = await startChaosProxy({
      target: { host: '127.0.0.1', port },
      latencyMs: [0, 15],
      resetProbability: 0.004,
    });
    try {
      const database = `lrt_chaos_${randomBytes(4).toString('hex')}`;
      const direct = openDirect(port, database, password);
      const sandbox = await writeDemoSandbox(dir, CHAOS_MASTER_SH);
      const tokens = chaosTokens(`file://${sandbox}`);
      await seedChaosDatabase(direct, TYPE, tokens);

      const ledger = join(dir, 'ledger.txt');
      const viaProxy = new URL(`http://127.0.0.1:${proxy.port}`);
      viaProxy.username = ADMIN;
      viaProxy.password = password;
      const fleet = new PilotFleet({
        dir,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: dir,
          PICAS_URL: viaProxy.toString(),
          PICAS_DB: database,
          CHAOS_LEDGER: ledger,
        },
        // Short leases so dead pilots' tokens come back fast; a DB wait far longer than the outage.
        args: () => [
          '--type',
          TYPE,
          '--lease',
          '4',
          '--max-attempts',
          '100',
          '--db-wait',
          '120',
          '--wait',
          '--poll',
          '1',
          '--max-time',
          String(5 + Math.floor(Math.random() * 20)),
          '--grace',
          '1',
          '--workdir',
          join(dir, 'work'),
          '--cache',
          join(dir, 'cache'),
          '--json',
        ],
      });
      const log = await runChaos(
        {
          type: TYPE,
          tokens: TOKENS,
          concurrency: 24,
          minPilots: 100,
          killEveryMs: 1500,
          sigkillShare: 0.6,
          outageAtMs: 20_000,
          outageMs: 30_000,
          deadlineMs: 8 * 60_000,
        },
        fleet,
        direct,
        db,
      );
      const stuck = await fleet.settle(60_000);

      // ---------------------------------------------------------------- the tokens
      const ids = tokens.map((t) => t.id!);
      const final = await readFinalTokens(direct, ids);
      const verdict = checkChaosInvariants(
        final,
        { ids, failing: new Set(ids.filter((_, i) => failing(i))) },
        parseLedger(await readFile(ledger, 'utf8').catch(() => '')),
      );
      const locked = await viewCount(direct, TYPE, 'locked');
      const todo = await viewCount(direct, TYPE, 'todo');

      // ---------------------------------------------------------------- the pilots
      const outage = log.outage;
      const pilots = await judgePilots(fleet.pilots, outage);

      const f = verdict.figures;
      const seconds = (log.endedAt - log.startedAt) / 1000;
      console.log(
        [
          `chaos: ${f.tokens} tokens -> ${f.done} done, ${f.error} error (meant to fail: ${ids.filter((_, i) => failing(i)).length}); todo ${todo}, locked ${locked}; all finished after ${seconds.toFixed(0)} s: ${log.finished}`,
          `  pilots: ${fleet.pilots.length} processes (about 24 at once), ${log.sigkills} SIGKILLed, ${log.sigterms} SIGTERMed, ${stuck} left stuck at the end, ${pilots.badExits.length} bad exits`,
          `  database: ${log.restarts} restart(s), down ${outage ? ((outage.upAt - outage.downAt) / 1000).toFixed(1) : '-'} s; ${pilots.waitedOut.length} pilots waited the outage out, ${pilots.neverResumed.length} never resumed, ${pilots.finishedAfter.length} finished tokens after it`,
          `  network: ${proxy.stats.connections} connections through the proxy, ${proxy.stats.resets} reset on purpose, ${proxy.stats.refused} refused while the database was down`,
          `  payload runs: ${f.payloadRuns}; duplicates started ${f.duplicateRuns} (on ${f.tokensRunTwice} tokens), fenced: ${f.fencedByExpiry} by lease expiry + ${f.fencedByRelease} given back on SIGTERM`,
          `  reclaims (attempts closed as lease expired) ${f.reclaims}, releases ${f.releases}; pilots reported ${pilots.reported.lost} leases lost, ${pilots.reported.released} released, ${pilots.reported.unrecorded} unrecorded`,
          ...verdict.violations.slice(0, 30).map((v) => `  VIOLATION ${v}`),
          ...pilots.badExits.slice(0, 10).map((b) => `  BAD EXIT ${b}`),
        ].join('\n'),
      );

      expect(verdict.violations).toEqual([]);
      expect(log.finished).toBe(true);
      expect({ todo, locked }).toEqual({ todo: 0, locked: 0 });
      expect(pilots.badExits).toEqual([]);
      expect(stuck).toBe(0);
      expect(fleet.pilots.length).toBeGreaterThanOrEqual(100);
      expect(log.restarts).toBe(1);
      expect(log.sigkills).toBeGreaterThan(0);
      expect(log.sigterms).toBeGreaterThan(0);
      expect(proxy.stats.resets).toBeGreaterThan(0);
      expect(pilots.waitedOut.length).toBeGreaterThan(0);
      expect(pilots.neverResumed).toEqual([]);
      expect(pilots.finishedAfter.length).toBeGreaterThan(0);
      expect(pilots.reported.unrecorded).toBe(0);
      expect(f.duplicateRuns).toBeGreaterThan(0);
    } finally {
      await proxy.close();
      await db.current.kill();
    }
  });
});
