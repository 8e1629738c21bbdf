import { type BackoffPolicy, backoffDelay, type Rng, sleep } from '../core';

/*
 * Read-change-write loops on one document outside the pilot's protocol (an attachment, a design
 * document, a staging release): a 409 means another writer's revision came first, so read again
 * and redo the change. Racers that retry at once meet again in the next round, and on a cluster
 * the re-read may come from a replica still catching up: each new round waits a growing, jittered
 * moment first.
 */

/** Rounds before a writer that keeps losing gives up: each round at least one racer lands, so this many racers at once all do. */
export const CONFLICT_ROUNDS = 20;
const CONFLICT_BACKOFF: BackoffPolicy = { baseMs: 10, maxMs: 1000, jitter: 'full' };

/**
 * After round `round` (1 = the first) met a 409: false when the rounds are spent; else waits
 * the round's jittered backoff and answers true (read again and retry).
 */
export async function nextConflictRound(round: number, rng: Rng = Math.random): Promise<boolean> {
  if (round >= CONFLICT_ROUNDS) return false;
  await sleep(backoffDelay(round, CONFLICT_BACKOFF, rng));
  return true;
}
