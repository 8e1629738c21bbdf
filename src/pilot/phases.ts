import { access } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import { type Logger, sleep } from '../core';
import { withDbRetry } from '../picas/dbRetry';
import type { TokenDoc } from '../picas/tokenDoc';
import { containerSpecOf } from './containerSpec';
import { imageEnv, type PulledImage, pullContainer } from './containerStep';
import { type DataStepContext, describeStageOut, planData, stageInputs, stageOutputs } from './dataSteps';
import { prepareInputs } from './inputs';
import type { JobDir } from './jobDir';
import { type PayloadResult, runPayload } from './payload';
import { type SandboxSource, sandboxSourceOf } from './sandboxSource';
import type { TokenRunContext } from './tokenRun';
import { assertTokenShape } from './tokenShape';

/* The phases of one token, from the sandbox to the stage-out: what the pilot does under a lease. */

/** The exit code a shell reports for a process killed by `signal`: 128 + its number. */
function signalExitCode(signal: string | null): number {
  return 128 + (signal && signal in constants.signals ? constants.signals[signal as NodeJS.Signals] : 0);
}

function exitCodeOf(result: PayloadResult): number {
  return result.exitCode ?? signalExitCode(result.signal);
}

/** Exit codes of the signals a batch system's cancel or a node shutdown sends: TERM, INT, HUP. */
const STOP_EXIT_CODES = new Set(['SIGTERM', 'SIGINT', 'SIGHUP'].map(signalExitCode));

/**
 * How long a payload that died of a stop signal waits for the pilot's own: scancel (and qdel,
 * and a node going down) signals every process of the job, and the payload may be gone a moment
 * before the pilot's handler runs. Then the token goes back to todo, not to error.
 */
const STOP_SIGNAL_WAIT_MS = 3000;

/** True when the pilot is stopping now or within `waitMs` (`stop` aborts when it is asked to). */
async function pilotStopping(stop: AbortSignal, waitMs: number): Promise<boolean> {
  if (stop.aborted) return true;
  return sleep(waitMs, stop).then(
    () => false,
    () => stop.aborted,
  );
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

export interface PhaseResult {
  ok: boolean;
  exitCode: number;
  /** Result fields to record (`Results_location` ...). */
  fields?: Record<string, unknown>;
  message?: string;
  stderrTail?: string;
  reason: PayloadResult['reason'];
}

/** What the run under a lease does (a dry run has no lease: it leaves `lease` out). */
export interface LeaseGuard {
  /** Aborted when the lease is lost or about to run out: the payload is stopped at once. */
  signal: AbortSignal;
  /** TERM to KILL of the payload then, and when the pilot dies (leaseTiming.ts). */
  urgentGraceMs: number;
  /** A renewal written just now, or a rejection: nothing is uploaded without it. */
  renew: () => Promise<void>;
}

export interface PhaseHooks {
  enter: (phase: string) => void;
  report: (state: { statusLine?: string }) => void;
  lease?: LeaseGuard;
  /** `pilot --token ID --dry-run`: the results are not uploaded (the storage is not written). */
  dryRun?: boolean;
}

export async function runPhases(
  ctx: TokenRunContext,
  token: TokenDoc,
  dir: JobDir,
  logger: Logger,
  signal: AbortSignal,
  { enter, report, lease, dryRun }: PhaseHooks,
): Promise<PhaseResult> {
  // Read what the token asks to move before anything runs: a bad spec fails in seconds.
  assertTokenShape(token);
  const data = planData(token);
  const container = containerSpecOf(token);
  const dataCtx = (): DataStepContext => ({
    transfer: ctx.settings.transfer,
    localityCheck: ctx.settings.localityCheck,
    logger,
    signal,
    report,
  });

  let image: PulledImage | undefined;
  if (container) {
    // Before the sandbox, as GRID_PiCaS_Launcher: once per node, shared by its pilots.
    enter('pulling_container');
    const { cacheDir, shubMirror: mirror, transfer } = ctx.settings;
    image = await pullContainer(container, { cacheDir, mirror, transfer }, { signal, logger, report });
    logger.info(
      { image: image.path, sha256: image.sha256, fromCache: image.fromCache },
      'container image ready',
    );
  }

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
        pilotFiles: typeof data.stageIn?.from === 'string' ? [data.stageIn.from] : [],
      }),
    { what: `inputs of token ${token._id}`, maxWaitMs: ctx.settings.dbWaitSeconds * 1000, logger, signal },
  );
  for (const warning of inputs.warnings) logger.warn(warning);
  if (container && image) Object.assign(inputs.env, imageEnv(container, image));

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
    leaseSignal: lease?.signal,
    urgentGraceMs: lease?.urgentGraceMs,
    onStatus: (line) => report({ statusLine: line }),
  });
  const exitCode = exitCodeOf(result);
  const reason =
    result.reason === 'exited' &&
    STOP_EXIT_CODES.has(exitCode) &&
    (await pilotStopping(signal, STOP_SIGNAL_WAIT_MS))
      ? 'aborted'
      : result.reason;
  logger.info(
    {
      exitCode,
      reason,
      durationMs: result.durationMs,
      stdoutBytes: result.stdoutBytes,
      stderrBytes: result.stderrBytes,
    },
    'payload ended',
  );
  if (reason === 'timeout') {
    return {
      ok: false,
      exitCode,
      reason,
      stderrTail: result.stderrTail,
      message: `payload timed out after ${timeoutS} s (exit ${exitCode})`,
    };
  }
  const ok = reason === 'exited' && exitCode === 0;
  let fields: Record<string, unknown> = {};
  if (ok && data.stageOut && dryRun) {
    logger.info({ wouldUpload: describeStageOut(data, token) }, 'dry run: results not uploaded');
  } else if (ok && data.stageOut) {
    enter('uploading');
    // Results land where the rightful holder's would: upload only under a lease renewed just now
    // (renewals go on during the upload, and the lease guard aborts it like the payload).
    await lease?.renew();
    fields = await stageOutputs(data, token, dir.work, dataCtx());
  }
  return {
    ok,
    exitCode,
    reason,
    stderrTail: result.stderrTail,
    fields,
    message: exitCode === 0 ? undefined : `master.sh exited with code ${exitCode}`,
  };
}

function describeSource(source: SandboxSource): string {
  return source.kind === 'git' ? `git ${source.url}` : source.url;
}
