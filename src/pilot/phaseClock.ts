import { attemptsOf } from '../picas/protocol';
import type { TokenDoc } from '../picas/tokenDoc';

/**
 * How long an attempt spent in each phase, kept by the pilot as it goes. The heartbeat records a
 * phase in `times` only when a beat reports it (whole seconds, and not at all for a phase shorter
 * than the beat delay), so the final write also stores the pilot's own account on the attempt:
 * `attempts[].phases = {sandbox: 1.204, inputs: 0.031, running: 312.5, ...}` (seconds, ms precision).
 */
export interface PhaseClock {
  enter(phase: string): void;
  /** Seconds per phase up to now; a phase entered twice adds up. */
  seconds(): Record<string, number>;
}

export function startPhaseClock(now: () => number): PhaseClock {
  const entered: [phase: string, atMs: number][] = [];
  return {
    enter(phase) {
      entered.push([phase, now()]);
    },
    seconds() {
      const end = now();
      const out: Record<string, number> = {};
      entered.forEach(([phase, at], i) => {
        const until = entered[i + 1]?.[1] ?? end;
        out[phase] = Math.round(((out[phase] ?? 0) + (until - at) / 1000) * 1000) / 1000;
      });
      return out;
    },
  };
}

/** `doc` with the phase seconds stored on its attempt `n` (the one the final write closed). */
export function withAttemptPhases(doc: TokenDoc, n: number, phases: Record<string, number>): TokenDoc {
  if (Object.keys(phases).length === 0) return doc;
  const attempts = attemptsOf(doc);
  if (!attempts.some((a) => a.n === n)) return doc;
  return { ...doc, attempts: attempts.map((a) => (a.n === n ? { ...a, phases } : a)) };
}
