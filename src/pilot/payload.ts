import { constants } from 'node:fs';
import { access, open, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { execa } from 'execa';
import { errorMessage, LrtError } from '../core';
import { type PayloadWatchdog, watchPayloadGroup } from './payloadWatchdog';
import { watchStatusFile } from './statusFile';
import { tailFile } from './tailFile';
import { groupAlive, terminateGroup } from './terminate';

export { tailFile } from './tailFile';

export type PayloadStopReason = 'exited' | 'timeout' | 'walltime' | 'aborted';

export interface PayloadOptions {
  /** Program and arguments, e.g. ['bash', 'master.sh']: no shell string. */
  command: string[];
  cwd: string;
  /** The whole environment of the payload (nothing of the pilot's is added). */
  env: Record<string, string>;
  stdoutFile: string;
  stderrFile: string;
  statusFile: string;
  /** Per-token limit. */
  timeoutMs?: number;
  /** Epoch ms by which the payload must be gone; leave room for grace and stage-out. */
  deadline?: number;
  /** Between TERM and KILL (default 30 s). */
  graceMs?: number;
  /** Abort (pilot SIGTERM, lease lost): the payload is terminated like on a timeout. */
  signal?: AbortSignal;
  /**
   * Aborted when the lease is lost or about to run out: the payload is stopped with
   * `urgentGraceMs` (even while a graceful stop is under way), so it is gone before the token
   * can pass to another pilot.
   */
  leaseSignal?: AbortSignal;
  /** TERM to KILL when the lease is in danger, and when the pilot dies (payloadWatchdog.ts); default graceMs. */
  urgentGraceMs?: number;
  onStatus?: (line: string) => void;
  /**
   * File checked up front (relative to cwd). Default: the script a shell runs
   * (`bash master.sh` -> master.sh) or the program when it is a path. `false`: no check.
   */
  script?: string | false;
  statusPollMs?: number;
  now?: () => number;
}

export interface PayloadResult {
  exitCode: number | null;
  signal: string | null;
  reason: PayloadStopReason;
  durationMs: number;
  stdoutBytes: number;
  stderrBytes: number;
  /** Last ~4 KB of the stderr file. */
  stderrTail: string;
  lastStatus?: string;
  /** Processes the payload left running in its group after it exited, stopped by the pilot. */
  straysStopped?: boolean;
}

const STDERR_TAIL_BYTES = 4096;
const DEFAULT_GRACE_MS = 30_000;
const MAX_TIMER_MS = 2_147_483_647;
const SHELLS = new Set(['bash', 'sh', 'dash', 'ksh', 'zsh']);

/** The file whose absence means "command not found" (LOFAR/shell exit 127). */
function scriptOf(command: string[]): { path: string; viaShell: boolean } | undefined {
  const [program, first] = command;
  if (!program) return undefined;
  if (SHELLS.has(basename(program)) && first && !first.startsWith('-'))
    return { path: first, viaShell: true };
  if (program.includes('/')) return { path: program, viaShell: false };
  return undefined;
}

async function checkScript(options: PayloadOptions): Promise<void> {
  const script =
    options.script === false
      ? undefined
      : options.script !== undefined
        ? { path: options.script, viaShell: true }
        : scriptOf(options.command);
  if (!script) return;
  const path = resolve(options.cwd, script.path);
  let isFile = false;
  try {
    isFile = (await stat(path)).isFile();
  } catch {
    throw new LrtError('E_PAYLOAD', `payload script ${script.path} not found in ${options.cwd}`, {
      exitCode: 127,
      details: { script: path },
    });
  }
  if (!isFile) {
    throw new LrtError('E_PAYLOAD', `payload script ${path} is not a file`, { exitCode: 126 });
  }
  if (!script.viaShell) {
    try {
      await access(path, constants.X_OK);
    } catch {
      throw new LrtError('E_PAYLOAD', `payload ${path} is not executable (run it as: bash ${script.path})`, {
        exitCode: 126,
      });
    }
  }
}

/** setTimeout that also works past 24.8 days (a far deadline), returning its canceller. */
function startTimer(ms: number, fire: () => void): () => void {
  let handle: NodeJS.Timeout;
  const arm = (left: number) => {
    handle = setTimeout(
      () => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : fire()),
      Math.min(left, MAX_TIMER_MS),
    );
  };
  arm(Math.max(0, ms));
  return () => clearTimeout(handle);
}

/** execa's types list only descriptors 3..9; at run time any descriptor is handed to spawn. */
const descriptor = (fd: number) => fd as 3;

async function openOutput(path: string) {
  try {
    return await open(path, 'a');
  } catch (err) {
    throw new LrtError('E_IO', `cannot open payload output ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Runs the payload in its own process group with stdout/stderr appended to files (the child
 * writes them directly: nothing passes through the pilot's memory), watches its status file,
 * and enforces the token timeout, the walltime deadline and aborts with TERM, grace, KILL.
 */
export async function runPayload(options: PayloadOptions): Promise<PayloadResult> {
  const now = options.now ?? Date.now;
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const urgentGraceMs = Math.min(graceMs, options.urgentGraceMs ?? graceMs);
  if (options.command.length === 0) throw new LrtError('E_USAGE', 'runPayload: empty command');
  await checkScript(options);

  const started = now();
  const stdout = await openOutput(options.stdoutFile);
  let stderr: Awaited<ReturnType<typeof openOutput>> | undefined;
  let watchdog: PayloadWatchdog | undefined;
  try {
    stderr = await openOutput(options.stderrFile);
    const stdoutStart = (await stdout.stat()).size;
    const stderrStart = (await stderr.stat()).size;
    const finish = async (partial: Pick<PayloadResult, 'exitCode' | 'signal' | 'reason'>, extra = {}) => ({
      ...partial,
      durationMs: now() - started,
      stdoutBytes: (await stdout.stat()).size - stdoutStart,
      stderrBytes: (await stderr!.stat()).size - stderrStart,
      stderrTail: await tailFile(options.stderrFile, STDERR_TAIL_BYTES),
      ...extra,
    });

    const remaining = options.deadline === undefined ? undefined : options.deadline - started;
    if (remaining !== undefined && remaining <= 0)
      return finish({ exitCode: null, signal: null, reason: 'walltime' });
    if (options.signal?.aborted || options.leaseSignal?.aborted)
      return finish({ exitCode: null, signal: null, reason: 'aborted' });

    const subprocess = execa(options.command[0]!, options.command.slice(1), {
      cwd: options.cwd,
      env: options.env,
      extendEnv: false,
      detached: true,
      stdin: 'ignore',
      // Raw descriptors: the child (and any grandchild) writes straight to the files, and a
      // background grandchild holding them open does not keep the run from ending (a pipe would).
      stdout: descriptor(stdout.fd),
      stderr: descriptor(stderr.fd),
      buffer: false,
      reject: false,
      cleanup: false,
    });
    const pid = subprocess.pid;
    // Spawned in the same turn as the payload: from here on the pilot may die at any moment.
    if (pid !== undefined) watchdog = watchPayloadGroup(pid, urgentGraceMs);
    const watcher = watchStatusFile(options.statusFile, options.onStatus, options.statusPollMs);

    const stopper = groupStopper(pid);
    const cancels: (() => void)[] = [];
    const onAbort = (signal: AbortSignal | undefined, grace: () => number) => {
      if (!signal) return;
      const listener = () => stopper.stop('aborted', grace());
      signal.addEventListener('abort', listener, { once: true });
      cancels.push(() => signal.removeEventListener('abort', listener));
    };
    if (pid !== undefined) {
      if (options.timeoutMs !== undefined)
        cancels.push(startTimer(options.timeoutMs, () => stopper.stop('timeout', graceMs)));
      if (remaining !== undefined)
        cancels.push(startTimer(remaining, () => stopper.stop('walltime', graceMs)));
      onAbort(options.signal, () => (options.leaseSignal?.aborted ? urgentGraceMs : graceMs));
      onAbort(options.leaseSignal, () => urgentGraceMs);
    }

    const result = await subprocess;
    for (const cancel of cancels) cancel();
    const stopError = await stopper.settled();
    if (stopError !== undefined) {
      await watcher.stop();
      throw new LrtError('E_PAYLOAD', `cannot stop payload group ${pid}: ${errorMessage(stopError)}`, {
        cause: stopError,
      });
    }
    const lastStatus = await watcher.stop();

    if (
      pid === undefined ||
      (result.failed && result.exitCode === undefined && result.signal === undefined)
    ) {
      const cause = (result as { cause?: unknown }).cause ?? result;
      throw new LrtError('E_PAYLOAD', `cannot start payload ${options.command[0]}: ${result.shortMessage}`, {
        exitCode: 127,
        cause,
      });
    }

    let straysStopped = false;
    if (groupAlive(pid)) {
      // The payload exited but left background processes in its group: they must not outlive the token.
      await terminateGroup(pid, { graceMs: Math.min(graceMs, stopper.graceMs()) });
      straysStopped = true;
    }
    return finish(
      { exitCode: result.exitCode ?? null, signal: result.signal ?? null, reason: stopper.reason() },
      { ...(lastStatus !== undefined ? { lastStatus } : {}), ...(straysStopped ? { straysStopped } : {}) },
    );
  } finally {
    // Only once the group is gone (or stopped): until then a pilot death must still take it along.
    await watchdog?.release();
    await stdout.close();
    await stderr?.close();
  }
}

/**
 * Stops the payload's group (TERM, grace, KILL) on the first reason; a later stop with a shorter
 * grace (the lease in danger while a graceful stop runs) KILLs sooner.
 */
function groupStopper(pid: number | undefined) {
  let reason: PayloadStopReason = 'exited';
  let graceMs = Number.POSITIVE_INFINITY;
  const stops: Promise<unknown>[] = [];
  return {
    stop(why: PayloadStopReason, grace: number) {
      if (pid === undefined || grace >= graceMs) return;
      if (stops.length === 0) reason = why;
      graceMs = grace;
      // Handled now, rethrown by the caller: a rejection must not surface as unhandled meanwhile.
      stops.push(
        terminateGroup(pid, { graceMs: grace }).then(
          () => undefined,
          (err: unknown) => err,
        ),
      );
    },
    reason: () => reason,
    /** The shortest grace a stop used (infinite when none was asked for). */
    graceMs: () => graceMs,
    /** Resolves once every stop is over, with the first error one met. */
    settled: async () => (await Promise.all(stops)).find((err) => err !== undefined),
  };
}
