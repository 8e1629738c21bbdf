import type { Logger, LrtError } from '../core';
import type { PicasDb } from '../picas/client';
import type { LogSink } from './attemptLog';
import type { PilotEvents } from './events';
import type { SandboxSource } from './sandboxSource';
import type { PilotSettings } from './settings';

/* What running one claimed token needs and how it can end (processToken.ts and its phases). */

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
  /** Local epoch ms: durations, walltime, --max-time. */
  clock: () => number;
  /**
   * Epoch ms on the database's clock (`picas.clock`): the lease times written (claim, renewal,
   * finish) and compared (reclaim), so skew between worker nodes cannot shorten a lease.
   */
  dbClock: () => number;
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
  /**
   * Taken away (reset, reclaim), or given up because renewals kept failing until the lease was
   * nearly out: the payload was stopped, and the pilot uploaded and wrote nothing more.
   */
  | { kind: 'lost'; token: string; reason: string; refused?: LrtError }
  /** The final write failed (database away): the lease will expire and another pilot retries. */
  | { kind: 'unrecorded'; token: string; reason: string; refused?: LrtError };
/* `refused`: the database refused the pilot (401, locked account, 403): it claims nothing more. */
