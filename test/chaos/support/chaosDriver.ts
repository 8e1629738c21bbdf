import type { PicasDb } from '../../../src/picas/client';
import { overview } from './chaosDb';
import type { DbServerProcess } from './dbServer';
import type { FleetPilot, PilotFleet } from './pilotFleet';

/**
 * The chaos: keeps a fleet of pilot processes running, SIGKILLs and SIGTERMs random ones, and
 * takes the database down for a while, until every token is finished or the deadline passes.
 */

export interface ChaosPlan {
  type: string;
  tokens: number;
  /** Pilots running at once (started again as others die). */
  concurrency: number;
  /** At least this many pilot processes over the run. */
  minPilots: number;
  /** Mean ms between two signals to random pilots. */
  killEveryMs: number;
  /** Share of those signals that are SIGKILL (the rest SIGTERM). */
  sigkillShare: number;
  /** ms after the start when the database is killed, and for how long it stays down. */
  outageAtMs: number;
  outageMs: number;
  deadlineMs: number;
  rng?: () => number;
}

export interface ChaosLog {
  startedAt: number;
  endedAt: number;
  finished: boolean;
  sigkills: number;
  sigterms: number;
  restarts: number;
  outage?: { downAt: number; upAt: number };
  /** Finished-token counts sampled over time (for the report). */
  progress: { at: number; finished: number }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function finishedCount(picas: PicasDb, type: string): Promise<number | undefined> {
  try {
    const counts = await overview(picas, type);
    return (counts.done ?? 0) + (counts.error ?? 0);
  } catch {
    return undefined; // the database is down
  }
}

export async function runChaos(
  plan: ChaosPlan,
  fleet: PilotFleet,
  direct: PicasDb,
  db: { current: DbServerProcess; restart(): Promise<DbServerProcess> },
): Promise<ChaosLog> {
  const rng = plan.rng ?? Math.random;
  const log: ChaosLog = {
    startedAt: Date.now(),
    endedAt: 0,
    finished: false,
    sigkills: 0,
    sigterms: 0,
    restarts: 0,
    progress: [],
  };
  const elapsed = () => Date.now() - log.startedAt;
  let outage: Promise<void> | undefined;
  let nextKill = plan.killEveryMs;
  let nextProgress = 0;

  while (elapsed() < plan.deadlineMs) {
    if (!outage && elapsed() >= plan.outageAtMs) {
      outage = (async () => {
        const downAt = Date.now();
        await db.current.kill();
        await sleep(plan.outageMs);
        db.current = await db.restart();
        log.restarts++;
        log.outage = { downAt, upAt: Date.now() };
      })();
    }
    if (elapsed() >= nextProgress) {
      nextProgress += 2000;
      const finished = await finishedCount(direct, plan.type);
      if (finished !== undefined) {
        log.progress.push({ at: elapsed(), finished });
        if (finished >= plan.tokens && fleet.pilots.length >= plan.minPilots && log.restarts > 0) {
          log.finished = true;
          break;
        }
      }
    }
    if (elapsed() >= nextKill) {
      nextKill += plan.killEveryMs * (0.5 + rng());
      const candidates = fleet.live().filter((p: FleetPilot) => Date.now() - p.startedAt > 1500);
      const victim = candidates[Math.floor(rng() * candidates.length)];
      if (victim) {
        const signal = rng() < plan.sigkillShare ? 'SIGKILL' : 'SIGTERM';
        fleet.send(victim, signal);
        if (signal === 'SIGKILL') log.sigkills++;
        else log.sigterms++;
      }
    }
    if (fleet.live().length < plan.concurrency) fleet.start();
    await sleep(150);
  }
  await outage;
  log.endedAt = Date.now();
  return log;
}
