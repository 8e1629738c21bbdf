import { errorMessage, isLrtError } from '../core';
import { isDbRefusal } from '../picas/client';
import { withDbRetry } from '../picas/dbRetry';
import type { ClaimedToken } from '../picas/protocol';
import { fencedUpdate, finishPatch, leaseOf, releasePatch } from '../picas/protocol';
import type { openAttemptLog } from './attemptLog';
import type { startHeartbeat } from './heartbeat';
import type { JobDir } from './jobDir';
import { collectLogs, withInlineLogs } from './logAttachments';
import type { PayloadResult } from './payload';
import { withAttemptPhases } from './phaseClock';
import type { TokenOutcome, TokenRunContext } from './tokenRun';

/** How a token's run ended, as the final write needs it. */
export interface Settlement {
  fields?: Record<string, unknown>;
  ok: boolean;
  exitCode: number;
  phase: string;
  message?: string;
  stderrTail?: string;
  reason: PayloadResult['reason'] | 'not-staged';
  /** Seconds the attempt spent per phase (phaseClock.ts), stored on the attempt when it finishes. */
  phaseSeconds?: Record<string, number>;
}

/** The one final write: finish, or give back when the pilot was stopped; nothing when lost. */
export async function settle(
  ctx: TokenRunContext,
  claimed: ClaimedToken,
  dir: JobDir,
  s: Settlement,
  heartbeat: ReturnType<typeof startHeartbeat>,
  log: ReturnType<typeof openAttemptLog>,
  lost: () => string | undefined,
): Promise<TokenOutcome> {
  await heartbeat.stop();
  const token = claimed.doc._id;
  const lostReason = lost();
  if (lostReason) {
    await log.close();
    return { kind: 'lost', token, reason: lostReason };
  }
  const release = s.reason !== 'exited' && s.reason !== 'timeout';
  const reason =
    s.reason === 'walltime'
      ? 'walltime of the batch job reached'
      : s.reason === 'not-staged'
        ? `not staged: ${s.message ?? 'an input is on tape only'}`
        : 'pilot stopped by a signal';
  if (release) log.logger.warn({ reason }, 'giving the token back');
  else log.logger.info({ ok: s.ok, exitCode: s.exitCode, phase: s.phase }, s.ok ? 'done' : 'failed');
  await log.close();
  const attempt = leaseOf(claimed.doc)?.attempt ?? 1;
  const logs = await collectLogs(dir, attempt);
  const now = () => Math.floor(ctx.dbClock() / 1000);
  try {
    await withDbRetry(
      () =>
        fencedUpdate(
          ctx.picas,
          token,
          claimed.leaseId,
          (doc) => {
            const patched = release
              ? releasePatch(doc, claimed.leaseId, { now: now(), reason })
              : finishPatch(doc, claimed.leaseId, {
                  now: now(),
                  exitCode: s.exitCode,
                  ok: s.ok,
                  phase: s.phase,
                  message: s.message,
                  stderrTail: s.stderrTail,
                  fields: s.fields,
                });
            if (!('doc' in patched)) return patched;
            const timed = release
              ? patched.doc
              : withAttemptPhases(patched.doc, attempt, s.phaseSeconds ?? {});
            return { doc: withInlineLogs(timed, logs) };
          },
          { current: heartbeat.latest() },
        ),
      {
        what: `final write of token ${token}`,
        maxWaitMs: ctx.settings.dbWaitSeconds * 1000,
        logger: ctx.logger,
      },
    );
  } catch (err) {
    if (isLrtError(err, 'E_LEASE_LOST')) {
      // Reset, reclaimed or taken over by another tool since the last renewal: its result stands.
      ctx.logger.warn({ token, reason: err.message }, 'lease lost at the final write: nothing written');
      return { kind: 'lost', token, reason: err.message };
    }
    return {
      kind: 'unrecorded',
      token,
      reason: errorMessage(err),
      ...(isDbRefusal(err) ? { refused: err } : {}),
    };
  }
  return release
    ? { kind: 'released', token, reason }
    : { kind: 'finished', token, ok: s.ok, exitCode: s.exitCode, phase: s.phase };
}
