import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, isLrtError, type Logger, LrtError } from '../core';
import type { PicasDb, TokenDoc } from '../picas/client';
import type { ClaimedToken } from '../picas/protocol';
import { leaseOf } from '../picas/protocol';
import { type LogSink, openAttemptLog } from './attemptLog';
import { type DataStepContext, planData, stageInputs, stageOutputs } from './dataSteps';
import { withDbRetry } from './dbRetry';
import type { PilotEvents } from './events';
import { startHeartbeat } from './heartbeat';
import { prepareInputs } from './inputs';
import { createJobDir, type JobDir, removeJobDir } from './jobDir';
import { type PayloadResult, runPayload } from './payload';
import { type SandboxSource, sandboxSourceOf } from './sandboxSource';
import type { PilotSettings } from './settings';
import { settle } from './settle';
import { assertTokenShape } from './tokenShape';

/** Puts the sandbox a token asks for into the job's work dir (src/sandbox behind it). */
export type SandboxPreparer = (
  source: SandboxSource,
  workDir: string,
  options: { signal: AbortSignal; logger: Logger },
) => Promise<void>;

export interface TokenRunContext {
  picas: PicasDb;
  settings: PilotSettings;
  sink: LogSink;
  events: PilotEvents;
  pilotId: string;
  clock: () => number;
  prepareSandbox: SandboxPreparer;
  /** Aborted when the pilot is told to stop (SIGTERM/SIGINT). */
  stopSignal: AbortSignal;
  baseEnv: Record<string, string | undefined>;
  /** The pilot's main logger (the attempt log is closed before the final write). */
  logger: Logger;
}

export type TokenOutcome =
  | { kind: 'finished'; token: string; ok: boolean; exitCode: number; phase: string }
  /** Given back to `todo` (pilot stopped, walltime). */
  | { kind: 'released'; token: string; reason: string }
  /** Taken away by a reset or a reclaim: the pilot wrote nothing more. */
  | { kind: 'lost'; token: string; reason: string }
  /** The final write failed (database away): the lease will expire and another pilot retries. */
  | { kind: 'unrecorded'; token: string; reason: string };

/** Exit code of a payload killed by a signal, as a shell reports it. */
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

function exitCodeOf(result: PayloadResult): number {
  if (result.exitCode !== null) return result.exitCode;
  return 128 + (SIGNAL_NUMBERS[result.signal ?? ''] ?? 0);
}

export class Failure extends Error {
  constructor(
    readonly phase: string,
    readonly exitCode: number,
    message: string,
    readonly stderrTail?: string,
  ) {
    super(message);
  }
}

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
  let lostReason: string | undefined;
  const onStop = () => tokenAbort.abort(new LrtError('E_PAYLOAD', 'pilot stopping'));
  ctx.stopSignal.addEventListener('abort', onStop, { once: true });
  if (ctx.stopSignal.aborted) onStop();

  const leaseSeconds =
    typeof claimed.doc.lease_s === 'number' ? claimed.doc.lease_s : ctx.settings.leaseSeconds;
  const heartbeat = startHeartbeat(
    {
      picas: ctx.picas,
      tokenId,
      leaseId: claimed.leaseId,
      leaseSeconds,
      clock: ctx.clock,
      logger: log.logger,
      onLost: (reason) => {
        lostReason = reason;
        log.logger.warn({ reason }, 'lease lost: stopping the payload, writing nothing more to this token');
        tokenAbort.abort(new LrtError('E_LEASE_LOST', reason));
      },
      onBeat: (state) =>
        ctx.events.emit('heartbeat', { token: tokenId, phase: state.phase, status: state.statusLine }),
    },
    claimed.doc,
  );
  let phase = 'locked';
  const enter = (next: string) => {
    phase = next;
    heartbeat.update({ phase: next });
    ctx.events.emit('phase', { token: tokenId, phase: next });
    log.logger.info({ phase: next }, `phase ${next}`);
  };

  let outcome: TokenOutcome;
  try {
    log.logger.info({ reclaimed: claimed.reclaimed, jobDir: dir.root }, 'claimed');
    const result = await runPhases(
      ctx,
      claimed.doc,
      dir,
      log.logger,
      tokenAbort.signal,
      enter,
      heartbeat.update,
    );
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
      },
      heartbeat,
      log,
      () => lostReason,
    );
  } finally {
    ctx.stopSignal.removeEventListener('abort', onStop);
  }

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
  } else {
    ctx.events.emit('lost', { token: tokenId, reason: outcome.reason });
  }
  return outcome;
}

export interface PhaseResult {
  ok: boolean;
  exitCode: number;
  /** Result fields to record (`Results_location` ...). */
  fields?: Record<string, unknown>;
  message?: string;
  stderrTail?: string;
  reason: PayloadResult['reason'];
}

export async function runPhases(
  ctx: TokenRunContext,
  token: TokenDoc,
  dir: JobDir,
  logger: Logger,
  signal: AbortSignal,
  enter: (phase: string) => void,
  report: (state: { statusLine?: string }) => void,
): Promise<PhaseResult> {
  // Read what the token asks to move before anything runs: a bad spec fails in seconds.
  assertTokenShape(token);
  const data = planData(token);
  const dataCtx = (): DataStepContext => ({
    transfer: ctx.settings.transfer,
    localityCheck: ctx.settings.localityCheck,
    logger,
    signal,
    report,
  });

  enter('sandbox');
  const source = sandboxSourceOf(token, ctx.settings.sandboxBase);
  await ctx.prepareSandbox(source, dir.work, { signal, logger });
  try {
    await access(join(dir.work, 'master.sh'));
  } catch {
    throw new Failure(
      'sandbox',
      127,
      `token ${token._id}: the sandbox has no master.sh (${describeSource(source)})`,
    );
  }

  enter('inputs');
  // The attachments come from the database: an outage here is waited out, not the token's error.
  const inputs = await withDbRetry(
    () =>
      prepareInputs({
        picas: ctx.picas,
        token,
        workDir: dir.work,
        statusFile: dir.statusFile,
        baseEnv: ctx.baseEnv,
        exportCredentials: ctx.settings.exportCredentials,
        credentials: ctx.settings.picas,
      }),
    { what: `inputs of token ${token._id}`, maxWaitMs: ctx.settings.dbWaitSeconds * 1000, logger, signal },
  );
  for (const warning of inputs.warnings) logger.warn(warning);

  if (data.stageIn) {
    enter('downloading');
    await stageInputs(data, dir.work, dataCtx());
  }

  enter('running');
  const timeoutS =
    typeof token.timeout_s === 'number' && token.timeout_s > 0
      ? token.timeout_s
      : ctx.settings.tokenTimeoutSeconds;
  const graceMs = ctx.settings.graceSeconds * 1000;
  const result = await runPayload({
    command: ['bash', 'master.sh'],
    cwd: dir.work,
    env: inputs.env,
    stdoutFile: dir.stdout,
    stderrFile: dir.stderr,
    statusFile: dir.statusFile,
    timeoutMs: timeoutS !== undefined ? timeoutS * 1000 : undefined,
    deadline: ctx.settings.walltimeEnd !== undefined ? ctx.settings.walltimeEnd - graceMs : undefined,
    graceMs,
    signal,
    onStatus: (line) => report({ statusLine: line }),
  });
  const exitCode = exitCodeOf(result);
  logger.info(
    {
      exitCode,
      reason: result.reason,
      durationMs: result.durationMs,
      stdoutBytes: result.stdoutBytes,
      stderrBytes: result.stderrBytes,
    },
    'payload ended',
  );
  if (result.reason === 'timeout') {
    return {
      ok: false,
      exitCode,
      reason: result.reason,
      stderrTail: result.stderrTail,
      message: `payload timed out after ${timeoutS} s (exit ${exitCode})`,
    };
  }
  const ok = result.reason === 'exited' && exitCode === 0;
  let fields: Record<string, unknown> = {};
  if (ok && data.stageOut) {
    enter('uploading');
    fields = await stageOutputs(data, token, dir.work, dataCtx());
  }
  return {
    ok,
    exitCode,
    reason: result.reason,
    stderrTail: result.stderrTail,
    fields,
    message: exitCode === 0 ? undefined : `master.sh exited with code ${exitCode}`,
  };
}

function describeSource(source: SandboxSource): string {
  return source.kind === 'git' ? `git ${source.url}` : source.url;
}
