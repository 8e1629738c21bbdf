import { isLrtError, type Logger } from '../core';
import type { PicasDb, TokenDoc } from '../picas/client';
import { fencedUpdate, heartbeatPatch } from '../picas/protocol';

export interface HeartbeatState {
  phase: string;
  progress?: number;
  statusLine?: string;
  bytes?: number;
}

export interface HeartbeatOptions {
  picas: PicasDb;
  tokenId: string;
  leaseId: string;
  leaseSeconds: number;
  /** Epoch ms. */
  clock: () => number;
  logger: Logger;
  /** Called once when the token turns out to be someone else's: stop the payload, write nothing. */
  onLost: (reason: string) => void;
  onBeat?: (state: HeartbeatState) => void;
}

export interface Heartbeat {
  /** Change what the next beat reports; a phase change beats at once. */
  update(state: Partial<HeartbeatState>): void;
  /** The freshest token document we wrote (saves a read for the next fenced write). */
  latest(): TokenDoc | undefined;
  stop(): Promise<void>;
}

const PHASE_REPORT_DELAY_MS = 1000;

/**
 * Renews the lease every lease/3 and reports phase, progress and the payload's status line.
 * A failed beat (database away) is logged and retried at the next tick: the lease has slack for
 * two missed beats. A lost lease is final.
 */
export function startHeartbeat(options: HeartbeatOptions, initial: TokenDoc): Heartbeat {
  const state: HeartbeatState = { phase: 'locked' };
  let latest: TokenDoc | undefined = initial;
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  let phaseTimer: NodeJS.Timeout | undefined;

  const beat = async () => {
    if (stopped) return;
    const snapshot = { ...state };
    try {
      const written = await fencedUpdate(
        options.picas,
        options.tokenId,
        options.leaseId,
        (doc) =>
          heartbeatPatch(doc, options.leaseId, {
            now: Math.floor(options.clock() / 1000),
            leaseSeconds: options.leaseSeconds,
            phase: snapshot.phase,
            progress: snapshot.progress,
            statusLine: snapshot.statusLine,
            bytes: snapshot.bytes,
          }),
        { current: latest },
      );
      if ('doc' in written) latest = written.doc;
      options.onBeat?.(snapshot);
    } catch (err) {
      latest = undefined;
      if (isLrtError(err, 'E_LEASE_LOST')) {
        stopped = true;
        clearInterval(timer);
        options.onLost(err.message);
        return;
      }
      options.logger.warn(
        { err: { code: (err as { code?: string }).code, message: String(err) } },
        'heartbeat failed',
      );
    }
  };
  const schedule = () => {
    inFlight = inFlight.then(beat);
  };
  const timer = setInterval(schedule, Math.max(1000, (options.leaseSeconds * 1000) / 3));
  timer.unref();

  return {
    update(next) {
      const phaseChanged = next.phase !== undefined && next.phase !== state.phase;
      Object.assign(state, next);
      // A phase that lasts shows up within a second; a token that is over sooner costs no writes.
      if (phaseChanged && !phaseTimer && !stopped) {
        phaseTimer = setTimeout(() => {
          phaseTimer = undefined;
          schedule();
        }, PHASE_REPORT_DELAY_MS);
        phaseTimer.unref();
      }
    },
    latest: () => latest,
    async stop() {
      stopped = true;
      clearInterval(timer);
      if (phaseTimer) clearTimeout(phaseTimer);
      await inFlight;
    },
  };
}
