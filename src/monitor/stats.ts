import { attemptsOf } from '../picas/protocol';
import type { TokenDoc } from '../picas/tokenDoc';

/**
 * Numbers read off token documents, pure: phase durations from `times`, attempt durations from
 * `attempts`, finish times. Tokens written by older tools lack these fields and are skipped.
 */

/** Entries of `times` that end a run rather than start a phase. */
const NOT_PHASES = new Set(['done', 'error', 'released', 'todo', 'reset']);

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function timesOf(doc: TokenDoc): Record<string, number> {
  const times = doc.times;
  if (!times || typeof times !== 'object' || Array.isArray(times)) return {};
  const out: Record<string, number> = {};
  // Typed as the pilot writes them; a token edited by hand may hold anything.
  for (const [name, t] of Object.entries(times)) {
    if (typeof t === 'number' && Number.isFinite(t)) out[name] = t;
  }
  return out;
}

/**
 * How long the last run of a token spent in each phase: `phases` of its last attempt (written by
 * the pilot at the end, ms precision), else the time from a phase's entry in `times` to the next
 * entry (whole seconds, only phases a heartbeat reported). Entries older than the last claim
 * (`times.locked`) belong to earlier attempts.
 */
export function phaseDurations(doc: TokenDoc): { phase: string; seconds: number }[] {
  // The pilot's own account of the last attempt (ms precision), where it left one.
  const recorded = attemptsOf(doc).at(-1)?.phases;
  if (recorded && typeof recorded === 'object' && !Array.isArray(recorded)) {
    const out = Object.entries(recorded)
      .filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1]) && e[1] >= 0)
      .map(([phase, seconds]) => ({ phase, seconds }));
    if (out.length > 0) return out;
  }
  const times = timesOf(doc);
  const start = times.locked;
  const entries = Object.entries(times)
    .filter(([, t]) => start === undefined || t >= start)
    .sort((a, b) => a[1] - b[1]);
  const out: { phase: string; seconds: number }[] = [];
  for (let i = 0; i + 1 < entries.length; i++) {
    const [phase, t] = entries[i]!;
    if (!NOT_PHASES.has(phase)) out.push({ phase, seconds: entries[i + 1]![1] - t });
  }
  return out;
}

/** Medians per phase over `docs`, phases in the order they usually happen. */
export function phaseMedians(docs: readonly TokenDoc[]): { phase: string; median: number; n: number }[] {
  const byPhase = new Map<string, { values: number[]; order: number[] }>();
  for (const doc of docs) {
    phaseDurations(doc).forEach(({ phase, seconds }, index) => {
      const slot = byPhase.get(phase) ?? { values: [], order: [] };
      slot.values.push(seconds);
      slot.order.push(index);
      byPhase.set(phase, slot);
    });
  }
  return [...byPhase.entries()]
    .map(([phase, { values, order }]) => ({
      phase,
      median: median(values)!,
      n: values.length,
      at: median(order)!,
    }))
    .sort((a, b) => a.at - b.at || a.phase.localeCompare(b.phase))
    .map(({ phase, median: m, n }) => ({ phase, median: m, n }));
}

/** An epoch second as picasclient and GRID_LRT write `lock` and `done` (0, -1 and "" are not). */
function epochField(value: unknown): number | undefined {
  return typeof value === 'number' && value > 1e9 ? value : undefined;
}

/**
 * Durations (ended - started) of every closed attempt of `docs`; for a token with no `attempts`
 * (finished by picasclient or GRID_LRT) its `lock` to its `done`, the one run those tools record.
 */
export function attemptDurations(docs: readonly TokenDoc[]): number[] {
  const out: number[] = [];
  for (const doc of docs) {
    const attempts = attemptsOf(doc);
    for (const a of attempts) {
      if (typeof a.ended === 'number' && typeof a.started === 'number' && a.ended >= a.started) {
        out.push(a.ended - a.started);
      }
    }
    const [lock, done] = [epochField(doc.lock), epochField(doc.done)];
    if (attempts.length === 0 && lock !== undefined && done !== undefined && done >= lock)
      out.push(done - lock);
  }
  return out;
}

/** When the token finished: `times.done`/`times.error`, else the `done` epoch (picasclient, GRID_LRT). */
export function finishTime(doc: TokenDoc): number | undefined {
  const times = timesOf(doc);
  return times.done ?? times.error ?? epochField(doc.done);
}

/** When work on the token first started: its first attempt, else its claim, else the `lock` epoch. */
export function startTime(doc: TokenDoc): number | undefined {
  const firstAttempt = attemptsOf(doc)[0]?.started;
  const times = timesOf(doc);
  const candidates = [firstAttempt, times.locked].filter((t): t is number => typeof t === 'number');
  return candidates.length ? Math.min(...candidates) : epochField(doc.lock);
}

export interface Throughput {
  /** Finished tokens per hour. */
  perHour: number;
  /** 'recent': tokens finished in the last `windowSeconds`; 'overall': since the first start. */
  basis: 'recent' | 'overall';
  windowSeconds: number;
}

export const THROUGHPUT_WINDOW_S = 1800;

/**
 * Finished tokens per hour: over the last half hour when tokens finished in it, else over the
 * whole run. `scale` corrects for reading only a sample of the finished tokens.
 */
export function throughput(
  docs: readonly TokenDoc[],
  now: number,
  scale = 1,
  window = THROUGHPUT_WINDOW_S,
): Throughput | undefined {
  const finishes = docs.map(finishTime).filter((t): t is number => t !== undefined && t <= now);
  if (finishes.length === 0) return undefined;
  const starts = docs.map(startTime).filter((t): t is number => t !== undefined);
  const firstStart = Math.min(...starts, ...finishes);
  const recent = finishes.filter((t) => t >= now - window).length;
  if (recent > 0) {
    const span = Math.max(1, Math.min(window, now - firstStart));
    return { perHour: (recent / span) * 3600 * scale, basis: 'recent', windowSeconds: span };
  }
  const span = Math.max(1, Math.max(...finishes) - firstStart);
  return { perHour: (finishes.length / span) * 3600 * scale, basis: 'overall', windowSeconds: span };
}

/** Seconds until `remaining` tokens are through at `perHour`; undefined when nothing moves. */
export function eta(remaining: number, perHour: number | undefined): number | undefined {
  if (remaining <= 0) return 0;
  if (!perHour || perHour <= 0) return undefined;
  return Math.round((remaining / perHour) * 3600);
}
