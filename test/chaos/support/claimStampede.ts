import { performance } from 'node:perf_hooks';
import { errorMessage } from '../../../src/core';
import type { PicasDb } from '../../../src/picas/client';
import {
  CACHED_CLAIM_PAGE_SIZE,
  claimToken,
  fencedUpdate,
  finishPatch,
  newCandidateCache,
} from '../../../src/picas/protocol';

/**
 * Many pilots' claim loops in one process, all starting at the same instant: claim, finish at
 * once (a no-op payload), repeat until the view is empty. Records who claimed what and how long
 * each claim took.
 */

export interface StampedeResult {
  /** Token id -> lease ids that claimed it (more than one is a double claim). */
  claims: Map<string, string[]>;
  /** ms per successful claim. */
  latencies: number[];
  /** When each of those claims started, ms after the stampede began (same order). */
  startedAt: number[];
  /** Whether it was its pilot's first claim, made in the stampede itself (same order). */
  first: boolean[];
  /** Pilots whose claim or finish threw. */
  gaveUp: string[];
  /** Pilots that got "nothing to claim" while the todo view still listed tokens. */
  quitEarly: string[];
  races: number;
  backoffs: number;
  wallMs: number;
}

export async function runClaimStampede(
  pilots: number,
  type: string,
  openDb: () => PicasDb,
  todoLeft: () => Promise<number>,
): Promise<StampedeResult> {
  const result: StampedeResult = {
    claims: new Map(),
    latencies: [],
    startedAt: [],
    first: [],
    gaveUp: [],
    quitEarly: [],
    races: 0,
    backoffs: 0,
    wallMs: 0,
  };
  const started = performance.now();
  const pilot = async (n: number) => {
    const picas = openDb();
    const pilotId = `stampede-${n}`;
    // As runPilotLoop claims: a candidate cache per pilot, the pilot's page size.
    const cache = newCandidateCache();
    let claimedBefore = false;
    for (;;) {
      const t0 = performance.now();
      let claimed: Awaited<ReturnType<typeof claimToken>>;
      try {
        claimed = await claimToken(picas, type, {
          cache,
          pageSize: CACHED_CLAIM_PAGE_SIZE,
          pilotId,
          host: 'wn-stampede',
          leaseSeconds: 3600,
          maxAttempts: 3,
          onEvent: (e) => {
            if (e.type === 'race') result.races++;
            if (e.type === 'backoff') result.backoffs++;
          },
        });
      } catch (err) {
        result.gaveUp.push(`${pilotId}: claim: ${errorMessage(err)}`);
        return;
      }
      if (!claimed) {
        // Tokens only go todo -> locked -> done here: a todo token now was one during the claim.
        if ((await todoLeft()) > 0) result.quitEarly.push(pilotId);
        return;
      }
      result.latencies.push(performance.now() - t0);
      result.startedAt.push(t0 - started);
      result.first.push(!claimedBefore);
      claimedBefore = true;
      const id = claimed.doc._id;
      result.claims.set(id, [...(result.claims.get(id) ?? []), claimed.leaseId]);
      try {
        await fencedUpdate(
          picas,
          id,
          claimed.leaseId,
          (doc) =>
            finishPatch(doc, claimed.leaseId, {
              now: Math.floor(Date.now() / 1000),
              exitCode: 0,
              ok: true,
              phase: 'running',
            }),
          { current: claimed.doc },
        );
      } catch (err) {
        result.gaveUp.push(`${pilotId}: finish ${id}: ${errorMessage(err)}`);
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: pilots }, (_, n) => pilot(n)));
  result.wallMs = performance.now() - started;
  return result;
}

/** The p-th percentile (0..100) of `values`, nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}
