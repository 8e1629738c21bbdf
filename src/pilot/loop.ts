import { hostname } from 'node:os';
import { setTimeout } from 'node:timers/promises';
import { LrtError } from '../core';
import { couchError, statusOf } from '../picas/client';
import { withDbRetry } from '../picas/dbRetry';
import { jobIdsFromEnv } from '../picas/jobIds';
import {
  CACHED_CLAIM_PAGE_SIZE,
  type CandidateCache,
  type ClaimedToken,
  claimPatch,
  claimToken,
  newCandidateCache,
  writeClaim,
} from '../picas/protocol';
import { type TokenDoc, tokenFromDoc } from '../picas/tokenDoc';
import { processClaimedToken } from './processToken';
import type { TokenOutcome, TokenRunContext } from './tokenRun';

export type StopCause = 'empty' | 'max-tokens' | 'max-time' | 'walltime' | 'signal';

export interface PilotSummary {
  pilot: string;
  claimed: number;
  done: number;
  failed: number;
  released: number;
  lost: number;
  unrecorded: number;
  stoppedBy: StopCause;
  tokens: TokenOutcome[];
}

export interface LoopContext extends TokenRunContext {
  host?: string;
  /** This pilot's claim candidates, kept between claims (made by runPilotLoop when absent). */
  candidates?: CandidateCache;
}

/** Why no new token may be claimed now, or undefined when one may. */
function stopCause(ctx: LoopContext, started: number, claimed: number): StopCause | undefined {
  const s = ctx.settings;
  const now = ctx.clock();
  if (ctx.stopSignal.aborted) return 'signal';
  if (s.maxTokens !== undefined && claimed >= s.maxTokens) return 'max-tokens';
  if (s.maxTimeSeconds !== undefined && now - started >= s.maxTimeSeconds * 1000) return 'max-time';
  if (s.walltimeEnd !== undefined && s.walltimeEnd - now < s.minRemainingSeconds * 1000) return 'walltime';
  return undefined;
}

async function claimNext(ctx: LoopContext): Promise<ClaimedToken | null> {
  const s = ctx.settings;
  const jobIds = jobIdsFromEnv(ctx.baseEnv);
  if (s.tokenId) return claimById(ctx, s.tokenId, jobIds);
  return claimToken(ctx.picas, s.type, {
    cache: ctx.candidates,
    pageSize: CACHED_CLAIM_PAGE_SIZE,
    pilotId: ctx.pilotId,
    host: ctx.host ?? hostname(),
    leaseSeconds: s.leaseSeconds,
    maxAttempts: s.maxAttempts,
    jobIds,
    view: s.view,
    // Reclaims compare `expires` with the database's time, as the holder wrote it.
    clock: ctx.dbClock,
    signal: ctx.stopSignal,
    onEvent: (event) => {
      if (event.type === 'errored') ctx.logger.warn({ token: event.token }, event.reason);
      if (event.type === 'settled') {
        const how = event.kept ? 'kept' : 'lost to another pilot';
        ctx.logger.info({ token: event.token }, `claim taken by fewer than all replicas, settled: ${how}`);
      }
    },
  });
}

/** `--token ID`: claim exactly that token, through the same guarded write as the view claim. */
async function claimById(
  ctx: LoopContext,
  id: string,
  jobIds: Record<string, string>,
): Promise<ClaimedToken> {
  let doc: TokenDoc;
  try {
    doc = tokenFromDoc(await ctx.picas.db.get(id));
  } catch (err) {
    if (statusOf(err) === 404)
      throw new LrtError('E_TOKEN_NOT_FOUND', `token ${id} does not exist in ${ctx.picas.name}`);
    throw couchError(ctx.picas, `read token ${id}`, err);
  }
  const leaseId = crypto.randomUUID();
  const patched = claimPatch(doc, {
    leaseId,
    pilot: ctx.pilotId,
    host: ctx.host ?? hostname(),
    jobIds,
    now: Math.floor(ctx.dbClock() / 1000),
    leaseSeconds: ctx.settings.leaseSeconds,
  });
  if ('skip' in patched) throw new LrtError('E_CLAIM_RACE', `cannot claim token ${id}: ${patched.skip}`);
  const { rev } = await writeClaim(ctx.picas, patched.doc, leaseId, ctx.stopSignal);
  if (rev === undefined) throw new LrtError('E_CLAIM_RACE', `token ${id} was claimed by another pilot first`);
  return { doc: { ...patched.doc, _rev: rev }, leaseId, reclaimed: false };
}

/**
 * The pilot's life: claim, process, repeat until the view is empty (or `--wait` keeps it polling),
 * a limit is reached, or it is told to stop. Database outages are waited out (`--db-wait`).
 */
export async function runPilotLoop(context: LoopContext): Promise<PilotSummary> {
  const ctx: LoopContext = { ...context, candidates: context.candidates ?? newCandidateCache() };
  const started = ctx.clock();
  const summary: PilotSummary = {
    pilot: ctx.pilotId,
    claimed: 0,
    done: 0,
    failed: 0,
    released: 0,
    lost: 0,
    unrecorded: 0,
    stoppedBy: 'empty',
    tokens: [],
  };
  for (;;) {
    const cause = stopCause(ctx, started, summary.claimed);
    if (cause) {
      summary.stoppedBy = cause;
      break;
    }
    let claimed: ClaimedToken | null;
    try {
      claimed = await withDbRetry(() => claimNext(ctx), {
        what: 'claim',
        maxWaitMs: ctx.settings.dbWaitSeconds * 1000,
        logger: ctx.logger,
        signal: ctx.stopSignal,
      });
    } catch (err) {
      if (ctx.stopSignal.aborted) {
        summary.stoppedBy = 'signal';
        break;
      }
      throw err;
    }
    if (!claimed) {
      if (!ctx.settings.wait) break;
      ctx.events.emit('idle', { waitingMs: ctx.settings.pollSeconds * 1000 });
      // Woken early by a stop: the loop then sees the signal and ends.
      await setTimeout(ctx.settings.pollSeconds * 1000, undefined, { signal: ctx.stopSignal }).catch(
        () => {},
      );
      continue;
    }
    summary.claimed++;
    ctx.events.emit('claimed', {
      token: claimed.doc._id,
      leaseId: claimed.leaseId,
      attempt: claimed.doc.lease?.attempt ?? 1,
      reclaimed: claimed.reclaimed,
    });
    const outcome = await processClaimedToken(ctx, claimed);
    summary.tokens.push(outcome);
    if (outcome.kind === 'finished') outcome.ok ? summary.done++ : summary.failed++;
    else if (outcome.kind === 'released') summary.released++;
    else if (outcome.kind === 'lost') summary.lost++;
    else summary.unrecorded++;
    // Refused by the database: asking again only adds failed logins towards the account lock.
    if ((outcome.kind === 'lost' || outcome.kind === 'unrecorded') && outcome.refused) throw outcome.refused;
    if (ctx.settings.tokenId) {
      summary.stoppedBy = 'max-tokens';
      break;
    }
  }
  return summary;
}
