import { errorMessage, isLrtError, LrtError } from '../core';
import type { ClaimedToken } from '../picas/protocol';
import { leaseLength, leaseOf } from '../picas/protocol';
import { openAttemptLog } from './attemptLog';
import { startHeartbeat } from './heartbeat';
import { createJobDir, removeJobDir } from './jobDir';
import { urgentGraceMs } from './leaseTiming';
import { startPhaseClock } from './phaseClock';
import { Failure, runPhases } from './phases';
import { settle } from './settle';
import type { TokenOutcome, TokenRunContext } from './tokenRun';

/** Runs one claimed token from job dir to the final fenced write. Never throws for token trouble. */
export async function processClaimedToken(
  ctx: TokenRunContext,
  claimed: ClaimedToken,
): Promise<TokenOutcome> {
  const tokenId = claimed.doc._id;
  const attempt = leaseOf(claimed.doc)?.attempt ?? 1;
  const started = ctx.clock();
  const dir = await createJobDir(ctx.settings.workDir, tokenId, attempt);
  const log = openAttemptLog(ctx.sink, dir.pilotLog, { pilot: ctx.pilotId, token: tokenId, attempt });
  const tokenAbort = new AbortController();
  const leaseAbort = new AbortController();
  let lostReason: string | undefined;
  let refused: LrtError | undefined;
  const onStop = () => tokenAbort.abort(new LrtError('E_PAYLOAD', 'pilot stopping'));
  ctx.stopSignal.addEventListener('abort', onStop, { once: true });
  if (ctx.stopSignal.aborted) onStop();

  const leaseSeconds = leaseLength(claimed.doc, ctx.settings.leaseSeconds);
  const heartbeat = startHeartbeat(
    {
      picas: ctx.picas,
      tokenId,
      leaseId: claimed.leaseId,
      leaseSeconds,
      dbClock: ctx.dbClock,
      logger: log.logger,
      onLost: (reason, refusal) => {
        lostReason = reason;
        refused = refusal;
        log.logger.warn({ reason }, 'lease lost: stopping the payload, uploading and writing nothing more');
        const err = new LrtError('E_LEASE_LOST', reason);
        leaseAbort.abort(err);
        tokenAbort.abort(err);
      },
      onBeat: (state) =>
        ctx.events.emit('heartbeat', { token: tokenId, phase: state.phase, status: state.statusLine }),
    },
    claimed.doc,
  );
  let phase = 'locked';
  const phaseClock = startPhaseClock(ctx.clock);
  const enter = (next: string) => {
    phase = next;
    phaseClock.enter(next);
    heartbeat.update({ phase: next });
    ctx.events.emit('phase', { token: tokenId, phase: next });
    log.logger.info({ phase: next }, `phase ${next}`);
  };

  let outcome: TokenOutcome;
  try {
    log.logger.info({ reclaimed: claimed.reclaimed, jobDir: dir.root }, 'claimed');
    const result = await runPhases(ctx, claimed.doc, dir, log.logger, tokenAbort.signal, {
      enter,
      report: heartbeat.update,
      lease: {
        signal: leaseAbort.signal,
        urgentGraceMs: urgentGraceMs(leaseSeconds * 1000, ctx.settings.graceSeconds * 1000),
        renew: heartbeat.renewNow,
      },
    });
    outcome = await settle(
      ctx,
      claimed,
      dir,
      {
        ok: result.ok,
        exitCode: result.exitCode,
        phase,
        message: result.message,
        stderrTail: result.stderrTail,
        reason: result.reason,
        fields: result.fields,
        phaseSeconds: phaseClock.seconds(),
      },
      heartbeat,
      log,
      () => lostReason,
    );
  } catch (err) {
    const failure =
      err instanceof Failure
        ? err
        : new Failure(
            phase,
            isLrtError(err) && err.exitCode !== undefined ? err.exitCode : 1,
            errorMessage(err),
          );
    log.logger.error({ phase: failure.phase, exitCode: failure.exitCode }, failure.message);
    outcome = await settle(
      ctx,
      claimed,
      dir,
      {
        ok: false,
        exitCode: failure.exitCode,
        phase: failure.phase,
        message: failure.message,
        stderrTail: failure.stderrTail,
        // Interrupted work and data still on tape go back to todo; anything else is the token's error.
        reason: tokenAbort.signal.aborted
          ? 'aborted'
          : isLrtError(err, 'E_NOT_STAGED')
            ? 'not-staged'
            : 'exited',
        phaseSeconds: phaseClock.seconds(),
      },
      heartbeat,
      log,
      () => lostReason,
    );
  } finally {
    ctx.stopSignal.removeEventListener('abort', onStop);
  }

  if (refused && (outcome.kind === 'lost' || outcome.kind === 'unrecorded'))
    outcome = { ...outcome, refused };
  const keep =
    ctx.settings.keepJobDir || (ctx.settings.keepFailed && outcome.kind === 'finished' && !outcome.ok);
  if (!keep) await removeJobDir(dir);
  const durationMs = ctx.clock() - started;
  if (outcome.kind === 'finished') {
    ctx.events.emit('finished', {
      token: tokenId,
      ok: outcome.ok,
      exitCode: outcome.exitCode,
      phase: outcome.phase,
      durationMs,
    });
  } else if (outcome.kind === 'released') {
    ctx.events.emit('released', { token: tokenId, reason: outcome.reason });
  } else if (outcome.kind === 'lost') {
    ctx.events.emit('lost', { token: tokenId, reason: outcome.reason });
  } else {
    ctx.events.emit('unrecorded', { token: tokenId, reason: outcome.reason });
  }
  return outcome;
}
