import { performance } from 'node:perf_hooks';
import { errorMessage, isLrtError, type Logger, LrtError } from '../core';
import { isDbRefusal, type PicasDb } from '../picas/client';
import { fencedUpdate, heartbeatPatch, leaseOf } from '../picas/protocol';
import type { TokenDoc } from '../picas/tokenDoc';
import { renewalIntervalMs, renewalRetryMs, renewalTimeoutMs, stopMarginMs } from './leaseTiming';

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
  /** Epoch ms on the database's clock: `expires` is written on it. */
  dbClock: () => number;
  logger: Logger;
  /**
   * Called once when the lease is gone (reset, reclaimed, deleted), or about to run out because
   * renewals keep failing: stop the payload, upload nothing, write nothing more to the token.
   * `refused` is the database's refusal (401, locked account, 403) that ended it: the pilot stops.
   */
  onLost: (reason: string, refused?: LrtError) => void;
  onBeat?: (state: HeartbeatState) => void;
}

export interface Heartbeat {
  /** Change what the next beat reports; a phase change beats within a second. */
  update(state: Partial<HeartbeatState>): void;
  /** The freshest token document we wrote (saves a read for the next fenced write). */
  latest(): TokenDoc | undefined;
  /**
   * Resolves once a renewal that started after this call was written; rejects (E_LEASE_LOST) when
   * the lease is lost, or runs out of margin before one could be. Uploads wait for it.
   */
  renewNow(): Promise<void>;
  stop(): Promise<void>;
}

const PHASE_REPORT_DELAY_MS = 1000;

interface RenewalWaiter {
  /** performance.now() of the renewNow call. */
  since: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** `promise`, or its signal's reason once that aborts (the promise is then left to settle unseen). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Local monotonic ms at which the lease written in `doc` ends, translated from the db clock. */
function leaseEndOf(doc: TokenDoc, localNow: number, dbNow: number): number | undefined {
  const expires = leaseOf(doc)?.expires;
  return typeof expires === 'number' ? localNow + expires * 1000 - dbNow : undefined;
}

/**
 * Keeps the lease (docs/protocol.md, Lease safety): renews it every lease/3 with the phase,
 * progress and the payload's status line; retries a failed renewal after 1 s, 2 s, 4 s ..., but
 * never a refused one (picas/client.ts, isDbRefusal); abandons a renewal left unanswered. When the time
 * left on the last lease written falls to the stop margin, or a renewal finds the lease gone, it
 * calls onLost once and renews no more.
 */
export function startHeartbeat(options: HeartbeatOptions, initial: TokenDoc): Heartbeat {
  const leaseMs = options.leaseSeconds * 1000;
  const marginMs = stopMarginMs(leaseMs);
  const state: HeartbeatState = { phase: 'locked' };
  let latest: TokenDoc | undefined = initial;
  /** Why the heartbeat ended (lease lost, or stopped); undefined while it runs. */
  let ended: Error | undefined;
  let failures = 0;
  let lastFailure = '';
  let renewedAt = performance.now();
  let leaseEnd = leaseEndOf(initial, renewedAt, options.dbClock()) ?? renewedAt + leaseMs;
  let inFlight: Promise<void> = Promise.resolve();
  let current: AbortController | undefined;
  let beatTimer: NodeJS.Timeout | undefined;
  let phaseTimer: NodeJS.Timeout | undefined;
  let marginTimer: NodeJS.Timeout | undefined;
  const waiters: RenewalWaiter[] = [];

  const clearTimers = () => {
    clearTimeout(beatTimer);
    clearTimeout(phaseTimer);
    clearTimeout(marginTimer);
    phaseTimer = undefined;
  };
  const end = (err: Error) => {
    ended = err;
    clearTimers();
    current?.abort(err);
    for (const waiter of waiters.splice(0)) waiter.reject(err);
  };
  const lose = (reason: string, refused?: LrtError) => {
    if (ended) return;
    end(new LrtError('E_LEASE_LOST', reason));
    options.onLost(reason, refused);
  };
  const armMarginTimer = () => {
    clearTimeout(marginTimer);
    marginTimer = setTimeout(
      () => {
        const since = ((performance.now() - renewedAt) / 1000).toFixed(1);
        lose(
          `token ${options.tokenId}: lease not renewed for ${since} s (failed attempts: ${failures}, last: ` +
            `${lastFailure || 'none answered yet'}); stopped with ${(marginMs / 1000).toFixed(1)} s of the lease ` +
            'left, nothing staged out or written',
        );
      },
      leaseEnd - marginMs - performance.now(),
    );
  };

  const beat = async (): Promise<void> => {
    if (ended) return;
    // This beat reports the latest state: a pending phase report is covered.
    clearTimeout(phaseTimer);
    phaseTimer = undefined;
    const startedAt = performance.now();
    const snapshot = { ...state };
    const attempt = new AbortController();
    current = attempt;
    const timeoutMs = renewalTimeoutMs(leaseMs);
    const timer = setTimeout(
      () => attempt.abort(new LrtError('E_TIMEOUT', `no answer within ${(timeoutMs / 1000).toFixed(1)} s`)),
      timeoutMs,
    );
    // Where this attempt's patch was made, to translate the `expires` it wrote into local time.
    let patchedAt = startedAt;
    let dbNowAtPatch = options.dbClock();
    try {
      const written = await untilAborted(
        fencedUpdate(
          options.picas,
          options.tokenId,
          options.leaseId,
          (doc) => {
            patchedAt = performance.now();
            dbNowAtPatch = options.dbClock();
            return heartbeatPatch(doc, options.leaseId, {
              now: Math.floor(dbNowAtPatch / 1000),
              leaseSeconds: options.leaseSeconds,
              phase: snapshot.phase,
              progress: snapshot.progress,
              statusLine: snapshot.statusLine,
              bytes: snapshot.bytes,
            });
          },
          { current: latest, signal: attempt.signal },
        ),
        attempt.signal,
      );
      if (ended) return;
      if ('doc' in written) {
        latest = written.doc;
        leaseEnd = leaseEndOf(written.doc, patchedAt, dbNowAtPatch) ?? leaseEnd;
        renewedAt = patchedAt;
        armMarginTimer();
      }
      failures = 0;
      for (const waiter of waiters.filter((w) => w.since <= startedAt)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
      options.onBeat?.(snapshot);
      scheduleBeat(waiters.length > 0 ? 0 : renewalIntervalMs(leaseMs));
    } catch (err) {
      latest = undefined;
      if (ended) return;
      if (isLrtError(err, 'E_LEASE_LOST')) {
        lose(err.message);
        return;
      }
      if (isDbRefusal(err)) {
        lose(`token ${options.tokenId}: lease renewal refused, not retried: ${err.message}`, err);
        return;
      }
      failures++;
      lastFailure = errorMessage(err);
      const retryMs = renewalRetryMs(failures, leaseMs, Math.random());
      options.logger.warn(
        { err: { code: isLrtError(err) ? err.code : undefined, message: lastFailure }, failures, retryMs },
        `lease renewal of token ${options.tokenId} failed`,
      );
      scheduleBeat(retryMs);
    } finally {
      clearTimeout(timer);
      if (current === attempt) current = undefined;
    }
  };
  const enqueueBeat = () => {
    inFlight = inFlight.then(beat);
  };
  const scheduleBeat = (ms: number) => {
    clearTimeout(beatTimer);
    if (!ended) beatTimer = setTimeout(enqueueBeat, ms);
  };

  armMarginTimer();
  scheduleBeat(renewalIntervalMs(leaseMs));

  return {
    update(next) {
      const phaseChanged = next.phase !== undefined && next.phase !== state.phase;
      Object.assign(state, next);
      // A phase that lasts shows up within a second; a token that is over sooner costs no writes.
      if (phaseChanged && !phaseTimer && !ended) {
        phaseTimer = setTimeout(() => {
          phaseTimer = undefined;
          enqueueBeat();
        }, PHASE_REPORT_DELAY_MS);
      }
    },
    latest: () => latest,
    renewNow() {
      if (ended) return Promise.reject(ended);
      return new Promise<void>((resolve, reject) => {
        waiters.push({ since: performance.now(), resolve, reject });
        scheduleBeat(0);
      });
    },
    async stop() {
      if (!ended) end(new LrtError('E_LEASE_LOST', `token ${options.tokenId}: heartbeat stopped`));
      await inFlight;
    },
  };
}
