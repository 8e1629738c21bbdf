import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { errorMessage, isLrtError, LrtError } from '../core';
import { couchError, statusOf } from '../picas/client';
import { claimPatch, finishPatch } from '../picas/protocol';
import { type TokenDoc, tokenFromDoc, tokenToDoc } from '../picas/tokenDoc';
import { openAttemptLog } from './attemptLog';
import { createJobDir } from './jobDir';
import { Failure, type PhaseResult, runPhases } from './phases';
import type { TokenRunContext } from './tokenRun';

export interface DryRunReport {
  token: string;
  ok: boolean;
  exitCode: number;
  phase: string;
  message?: string;
  jobDir: string;
  logs: { stdout: string; stderr: string; pilot: string };
  /** The fields the pilot would have written to the token at the end (protocol fields included). */
  wouldWrite: Record<string, unknown>;
  /** Why a real pilot would not claim this token (it is done, or held): then it writes nothing. */
  notClaimable?: string;
}

/**
 * `pilot --token ID --dry-run`: the whole flow of one token in a local job dir, without claiming
 * or changing the token. The job dir is kept for the user to look at.
 */
export async function runDryRun(ctx: TokenRunContext): Promise<DryRunReport> {
  const id = ctx.settings.tokenId;
  if (!id) throw new LrtError('E_USAGE', '--dry-run needs --token ID');
  let token: TokenDoc;
  try {
    token = tokenFromDoc(await ctx.picas.db.get(id));
  } catch (err) {
    if (statusOf(err) === 404)
      throw new LrtError('E_TOKEN_NOT_FOUND', `token ${id} does not exist in ${ctx.picas.name}`);
    throw couchError(ctx.picas, `read token ${id}`, err);
  }
  const dir = await createJobDir(ctx.settings.workDir, id, 0);
  const log = openAttemptLog(ctx.sink, dir.pilotLog, { pilot: ctx.pilotId, token: id, dryRun: true });
  let phase = 'locked';
  let result: PhaseResult;
  try {
    result = await runPhases(ctx, token, dir, log.logger, ctx.stopSignal, {
      enter: (next) => {
        phase = next;
        log.logger.info({ phase: next }, `phase ${next}`);
      },
      report: ({ statusLine }) => log.logger.info({ status: statusLine }, 'payload status'),
      dryRun: true,
    });
  } catch (err) {
    const exitCode =
      err instanceof Failure
        ? err.exitCode
        : isLrtError(err) && err.exitCode !== undefined
          ? err.exitCode
          : 1;
    result = { ok: false, exitCode, reason: 'exited', message: errorMessage(err) };
    phase = err instanceof Failure ? err.phase : phase;
  }
  await log.close();

  // What the real run would write: the claim and the finish applied to a copy.
  const leaseId = randomUUID();
  const now = Math.floor(ctx.dbClock() / 1000);
  const claimed = claimPatch(token, {
    leaseId,
    pilot: ctx.pilotId,
    host: hostname(),
    jobIds: {},
    now,
    leaseSeconds: ctx.settings.leaseSeconds,
  });
  const base = 'doc' in claimed ? claimed.doc : token;
  const finished = finishPatch(base, leaseId, {
    now,
    exitCode: result.exitCode,
    ok: result.ok,
    phase,
    message: result.message,
    stderrTail: result.stderrTail,
  });
  const after = 'doc' in finished ? finished.doc : base;
  const wouldWrite: Record<string, unknown> = {};
  const before = tokenToDoc(token);
  for (const [field, value] of Object.entries(tokenToDoc(after))) {
    if (field === '_rev' || field === '_attachments') continue;
    if (JSON.stringify(value) !== JSON.stringify(before[field])) wouldWrite[field] = value;
  }
  return {
    token: id,
    ok: result.ok,
    exitCode: result.exitCode,
    phase,
    message: result.message,
    jobDir: dir.root,
    logs: { stdout: dir.stdout, stderr: dir.stderr, pilot: dir.pilotLog },
    wouldWrite,
    ...('skip' in claimed ? { notClaimable: `${claimed.skip}: a pilot would not claim it` } : {}),
  };
}
