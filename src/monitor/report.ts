import { attemptsOf, leaseOf } from '../picas/protocol';
import { takenOverBy } from '../picas/protocol/leaseRecord';
import type { TokenDoc } from '../picas/tokenDoc';
import { exitMeaning } from './exitMeanings';
import { attemptDurations, eta, median, phaseMedians, type Throughput, throughput } from './stats';

/** What the status of a token type is computed from: the overview counts and the docs read. */
export interface StatusInput {
  type: string;
  database: string;
  /** Epoch seconds. */
  now: number;
  /** Tokens per state from `overview_total` (group=true). */
  counts: Record<string, number>;
  /** Tokens with status `done` (possibly a sample, see `counts.done`). */
  done: TokenDoc[];
  /** Tokens with status `error`. */
  failed: TokenDoc[];
  /** Claimed tokens whose lease expired (view `expired`, endkey=now). */
  stale: TokenDoc[];
  /** Tokens another tool took from our pilots (view `taken_over`); absent: not read. */
  takenOver?: TokenDoc[];
  /** False when `_design/finished:<type>` is missing: picasclient's finished tokens are not counted. */
  finishedViews?: boolean;
  /** How long each read of the status took. */
  reads?: ReadTime[];
}

export interface ReadTime {
  /** What was read: a view and what for. */
  read: string;
  seconds: number;
}

/** A status read slower than this is named in the report (a large campaign, a busy server). */
export const SLOW_READ_SECONDS = 1;

export interface FailingToken {
  id: string;
  phase?: string;
  exit?: number;
  /** What `exit` means for a LOFAR sandbox (exitMeanings.ts), when known. */
  exitMeaning?: string;
  message: string;
  /** The last lines of the payload's stderr the pilot stored with the error (at most 5). */
  stderrTail?: string[];
  time?: number;
  attempts: number;
}

export interface StaleLease {
  id: string;
  pilot?: string;
  host?: string;
  attempt?: number;
  expires: number;
  expiredFor: number;
}

/** A token another tool (picasclient) re-locked while our pilot held it: that pilot stopped. */
export interface TakenOverToken {
  id: string;
  /** The host the other tool wrote. */
  by: string;
  /** The `lock` it wrote (epoch s). */
  lock?: number;
  /** Our pilot that held it, and where. */
  pilot?: string;
  host?: string;
  /** True once the other tool finished it. */
  finished: boolean;
}

export interface StatusReport {
  type: string;
  database: string;
  at: number;
  /** States in display order: staging, todo, the running phases, done, error. */
  states: { state: string; n: number }[];
  total: number;
  waiting: number;
  running: number;
  done: number;
  error: number;
  finished: number;
  /** finished / total, 0..1 (0 when there are no tokens). */
  progress: number;
  throughput?: Throughput;
  etaSeconds?: number;
  phases: { phase: string; median: number; n: number }[];
  attempt?: { median: number; n: number };
  failing: FailingToken[];
  stale: StaleLease[];
  takenOver: TakenOverToken[];
  /** `_design/finished:<type>` exists (else finished means GRID_LRT's `status` only). */
  finishedViews: boolean;
  /** Finished tokens read for times and rates, against how many there are. */
  sample: { read: number; of: number };
  /** The reads that took more than SLOW_READ_SECONDS, slowest first. */
  slowReads: ReadTime[];
}

const WAITING = ['staging', 'todo'];
const FINISHED = ['done', 'error'];

function num(v: unknown): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

const STDERR_LINES_SHOWN = 5;
const STDERR_LINE_CHARS = 200;

/** The last `n` lines of `text` that hold something, each cut to a readable length. */
function lastLines(text: string, n: number): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== '')
    .slice(-n)
    .map((line) => (line.length > STDERR_LINE_CHARS ? `${line.slice(0, STDERR_LINE_CHARS - 1)}…` : line));
}

/** The last entry of `error` (a list in SURF's shape, or a plain string), else `launcher_status`. */
export function failingToken(doc: TokenDoc): FailingToken {
  const list = Array.isArray(doc.error) ? doc.error : doc.error ? [doc.error] : [];
  const last = list.at(-1);
  const entry = typeof last === 'object' && last !== null ? last : undefined;
  const message =
    typeof last === 'string'
      ? last
      : typeof entry?.message === 'string'
        ? entry.message
        : typeof doc.launcher_status === 'string' && doc.launcher_status
          ? doc.launcher_status
          : 'no error recorded';
  const exit = num(entry?.exit_code) ?? num(doc.exit_code) ?? num(doc.output);
  const phase = typeof entry?.phase === 'string' ? entry.phase : attemptsOf(doc).at(-1)?.phase;
  const time = num(entry?.time) ?? num(doc.times?.error);
  const meaning = exit !== undefined ? exitMeaning(exit) : undefined;
  const tail = typeof entry?.stderr_tail === 'string' ? lastLines(entry.stderr_tail, STDERR_LINES_SHOWN) : [];
  return {
    id: doc._id,
    ...(phase ? { phase } : {}),
    ...(exit !== undefined ? { exit } : {}),
    ...(meaning ? { exitMeaning: meaning } : {}),
    message,
    ...(tail.length ? { stderrTail: tail } : {}),
    ...(time !== undefined ? { time } : {}),
    attempts: attemptsOf(doc).length,
  };
}

export function staleLease(doc: TokenDoc, now: number): StaleLease | undefined {
  const lease = leaseOf(doc);
  if (!lease || typeof lease.expires !== 'number') return undefined;
  return {
    id: doc._id,
    pilot: lease.pilot,
    host: lease.host,
    attempt: lease.attempt,
    expires: lease.expires,
    expiredFor: Math.max(0, now - lease.expires),
  };
}

export function takenOverToken(doc: TokenDoc): TakenOverToken | undefined {
  const lease = leaseOf(doc);
  const by = lease ? takenOverBy(doc, lease) : undefined;
  if (!lease || by === undefined) return undefined;
  const lock = num(doc.lock);
  return {
    id: doc._id,
    by,
    ...(lock !== undefined ? { lock } : {}),
    pilot: lease.pilot,
    host: lease.host,
    finished: (num(doc.done) ?? 0) > 0,
  };
}

function orderStates(counts: Record<string, number>): { state: string; n: number }[] {
  const running = Object.keys(counts)
    .filter((s) => !WAITING.includes(s) && !FINISHED.includes(s))
    .sort((a, b) => (a === 'locked' ? -1 : b === 'locked' ? 1 : a.localeCompare(b)));
  return [...WAITING, ...running, ...FINISHED].map((state) => ({ state, n: counts[state] ?? 0 }));
}

export function buildStatusReport(input: StatusInput): StatusReport {
  const states = orderStates(input.counts);
  const count = (s: string) => input.counts[s] ?? 0;
  const total = states.reduce((sum, s) => sum + s.n, 0);
  const done = count('done');
  const error = count('error');
  const finished = done + error;
  const waiting = WAITING.reduce((sum, s) => sum + count(s), 0);
  const read = input.done.length + input.failed.length;
  const scale = read > 0 && finished > read ? finished / read : 1;
  const rate = throughput([...input.done, ...input.failed], input.now, scale);
  const etaSeconds = eta(total - finished, rate?.perHour);
  const attempts = attemptDurations([...input.done, ...input.failed]);
  const attemptMedian = median(attempts);
  const failing = input.failed.map(failingToken).sort((a, b) => (b.time ?? 0) - (a.time ?? 0));
  const stale = input.stale
    .map((doc) => staleLease(doc, input.now))
    .filter((s): s is StaleLease => s !== undefined && s.expires <= input.now)
    .sort((a, b) => b.expiredFor - a.expiredFor);
  return {
    type: input.type,
    database: input.database,
    at: input.now,
    states,
    total,
    waiting,
    running: total - waiting - finished,
    done,
    error,
    finished,
    progress: total > 0 ? finished / total : 0,
    ...(rate ? { throughput: rate } : {}),
    ...(etaSeconds !== undefined ? { etaSeconds } : {}),
    phases: phaseMedians(input.done),
    ...(attemptMedian !== undefined ? { attempt: { median: attemptMedian, n: attempts.length } } : {}),
    failing,
    stale,
    takenOver: (input.takenOver ?? [])
      .map(takenOverToken)
      .filter((t): t is TakenOverToken => t !== undefined)
      .sort((a, b) => (b.lock ?? 0) - (a.lock ?? 0)),
    finishedViews: input.finishedViews ?? true,
    sample: { read, of: finished },
    slowReads: (input.reads ?? [])
      .filter((r) => r.seconds > SLOW_READ_SECONDS)
      .sort((a, b) => b.seconds - a.seconds),
  };
}
