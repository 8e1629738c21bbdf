import { randomBytes } from 'node:crypto';
import { constants, createWriteStream, openSync } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import {
  dropPasswordsFromEnv,
  errorMessage,
  fileProblem,
  isLrtError,
  scrubSecrets,
  TOOL_VERSION,
} from '../core';
import { isDbRefusal, openPicas } from '../picas/client';
import { type LogSink, pilotLogger } from './attemptLog';
import { slurmWalltimeEnd } from './batchWalltime';
import { runPilotCheck } from './check';
import { legacyPassword } from './cleanLaunch';
import { runDryRun } from './dryRun';
import { PilotEvents } from './events';
import { PILOT_EXIT_CODES, pilotHelp } from './help';
import { runPilotLoop } from './loop';
import { prettyStream } from './prettyLog';
import { createSandboxPreparer } from './sandboxStep';
import { parsePilotSettings } from './settings';

export interface PilotIo {
  argv: string[];
  env: Record<string, string | undefined>;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  cwd: string;
  /** Where SIGTERM/SIGINT come from (process, or a test's emitter). */
  signals?: NodeJS.EventEmitter;
}

/**
 * Once the settings are read, the password leaves what other processes can see: the environment
 * the tools this process starts inherit (globus-url-copy, gfal, git get process.env), and the
 * process list (`ps` shows the legacy DB USER PWD TYPE arguments; Linux lets us overwrite them).
 */
function hideCredentials(io: PilotIo, argvPassword: string | undefined): void {
  if (io.env === process.env) dropPasswordsFromEnv(process.env);
  if (argvPassword && process.argv.includes(argvPassword)) {
    process.title = process.argv.map((arg) => (arg === argvPassword ? '***' : arg)).join(' ');
  }
}

function exitCodeForError(err: unknown): number {
  if (!isLrtError(err)) return PILOT_EXIT_CODES.failure;
  if (err.code === 'E_USAGE' || err.code === 'E_CONFIG') return PILOT_EXIT_CODES.usage;
  if (err.code === 'E_DB_UNREACHABLE') return PILOT_EXIT_CODES.unreachable;
  if (err.code === 'E_DB_AUTH' || err.code === 'E_DB_FORBIDDEN') return PILOT_EXIT_CODES.auth;
  return PILOT_EXIT_CODES.failure;
}

/** The whole pilot process: settings, logging, signals, the loop. Returns the exit code. */
export async function pilotMain(io: PilotIo): Promise<number> {
  let settings: ReturnType<typeof parsePilotSettings>;
  try {
    settings = parsePilotSettings({
      argv: io.argv,
      env: io.env,
      home: io.env.HOME ?? homedir(),
      cwd: io.cwd,
      now: Date.now(),
    });
  } catch (err) {
    io.stderr.write(`pilot: ${scrubSecrets(errorMessage(err), [legacyPassword(io.argv)])}\n`);
    return exitCodeForError(err);
  }
  if ('help' in settings) {
    io.stdout.write(`${pilotHelp()}\n`);
    return PILOT_EXIT_CODES.ok;
  }
  if ('version' in settings) {
    io.stdout.write(`grid-lrt pilot ${TOOL_VERSION}\n`);
    return PILOT_EXIT_CODES.ok;
  }
  hideCredentials(io, legacyPassword(io.argv));
  if (settings.walltimeEnd === undefined) {
    const batch = await slurmWalltimeEnd(io.env, Date.now);
    settings.walltimeEnd = batch?.end;
    if (batch?.note) settings.warnings.push(batch.note);
  }
  if (settings.check) return runPilotCheck(settings, io.env, io.stdout);
  // Before any claim: a job dir that cannot be made would leave the claimed token locked.
  try {
    await mkdir(settings.workDir, { recursive: true });
    await access(settings.workDir, constants.W_OK);
  } catch (err) {
    io.stderr.write(
      `pilot: cannot use the work dir ${settings.workDir} (--workdir): ${fileProblem(err, 'write')}\n`,
    );
    return PILOT_EXIT_CODES.usage;
  }
  const secrets = [settings.picas.password];
  let logTo: NodeJS.WritableStream = io.stderr;
  if (settings.logFile) {
    // Opened now: a stream that fails to open later throws an unhandled 'error' and a stack trace.
    let fd: number;
    try {
      fd = openSync(settings.logFile, 'a');
    } catch (err) {
      io.stderr.write(`pilot: cannot open --log ${settings.logFile}: ${fileProblem(err, 'write')}\n`);
      return PILOT_EXIT_CODES.usage;
    }
    logTo = createWriteStream('', { fd });
  }
  const pretty =
    settings.logFormat === 'pretty' ||
    (settings.logFormat === undefined && !settings.logFile && io.stderr.isTTY === true);
  const sink: LogSink = { stream: pretty ? prettyStream(logTo) : logTo, level: settings.logLevel };
  const pilotId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const logger = pilotLogger(sink, { pilot: pilotId });
  for (const warning of settings.warnings) logger.warn(warning);

  const stop = new AbortController();
  let stopSignal: 'SIGTERM' | 'SIGINT' | undefined;
  const signals = io.signals ?? process;
  const onSignal = (name: 'SIGTERM' | 'SIGINT') => () => {
    if (stopSignal) return;
    stopSignal = name;
    logger.warn({ signal: name }, 'stopping: the token in hand goes back to todo');
    stop.abort(new Error(name));
  };
  const onTerm = onSignal('SIGTERM');
  const onInt = onSignal('SIGINT');
  signals.on('SIGTERM', onTerm);
  signals.on('SIGINT', onInt);

  const picas = openPicas(settings.picas);
  // A view being rebuilt (a new or changed design document) is waited for, never a reason to stop.
  picas.onWait = (notice) => logger.warn({ wait: notice.kind, attempt: notice.attempt }, notice.message);
  const events = new PilotEvents();
  const context = {
    picas,
    settings,
    sink,
    events,
    pilotId,
    clock: Date.now,
    dbClock: picas.clock.now,
    prepareSandbox: createSandboxPreparer({ cacheDir: settings.cacheDir, transfer: settings.transfer }),
    stopSignal: stop.signal,
    baseEnv: io.env,
    logger,
  };
  try {
    if (settings.dryRun) {
      const report = await runDryRun(context);
      io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return report.ok ? PILOT_EXIT_CODES.ok : PILOT_EXIT_CODES.failure;
    }
    logger.info(
      { db: picas.name, type: settings.type, view: settings.view, version: TOOL_VERSION },
      'pilot started',
    );
    const summary = await runPilotLoop(context);
    // `pilot` is on every log line already.
    const { tokens, pilot: _pilot, ...counts } = summary;
    logger.info(counts, 'pilot finished');
    if (settings.json) io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    if (stopSignal === 'SIGTERM') return PILOT_EXIT_CODES.sigterm;
    if (stopSignal === 'SIGINT') return PILOT_EXIT_CODES.sigint;
    return PILOT_EXIT_CODES.ok;
  } catch (err) {
    const message =
      scrubSecrets(errorMessage(err), secrets) +
      (isDbRefusal(err)
        ? '. The pilot stopped at once and does not retry: every refused login counts towards ' +
          "CouchDB's lock of the account (3.4+), which shuts out every pilot and user of it"
        : '');
    logger.error({ code: isLrtError(err) ? err.code : undefined }, message);
    // Whoever reads the job's stderr gets the reason as one plain line, whatever the log format.
    if (settings.logFile || !pretty) io.stderr.write(`pilot: ${message}\n`);
    if (stopSignal === 'SIGTERM') return PILOT_EXIT_CODES.sigterm;
    if (stopSignal === 'SIGINT') return PILOT_EXIT_CODES.sigint;
    return exitCodeForError(err);
  } finally {
    signals.off('SIGTERM', onTerm);
    signals.off('SIGINT', onInt);
    if (settings.logFile) await new Promise<void>((done) => logTo.end(done));
  }
}
