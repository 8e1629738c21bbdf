import type { StoredToken } from '../../src/picas/tokenDoc';
import type { TestDatabase } from './couch';
import { bulkDocs, putDesignDoc } from './seedTokens';

/*
 * Tokens in every state a monitor shows, written as a pilot would have left them (docs/token-format.md):
 * `times`, `attempts`, `error[]`, `lease`, log attachments. Built from plain numbers so a test can
 * work out what the status must say without the code under test.
 */

export type Phases = [phase: string, seconds: number][];

function base(type: string, id: string): StoredToken {
  return {
    _id: id,
    type,
    lock: 0,
    done: 0,
    status: 'todo',
    hostname: '',
    scrub_count: 0,
    output: '',
    progress: 0,
  };
}

function inline(text: string) {
  return { content_type: 'text/plain', data: Buffer.from(text).toString('base64') };
}

/** Log attachments of one attempt, named as pilots attach them. */
export function attemptLogs(attempt: number, stdout: string, stderr = '', pilot = '') {
  return {
    [`attempt-${attempt}.stdout.log`]: inline(stdout),
    [`attempt-${attempt}.stderr.log`]: inline(stderr),
    [`attempt-${attempt}.pilot.log`]: inline(pilot),
  };
}

export function todoToken(type: string, id: string): StoredToken {
  return base(type, id);
}

/** Finished at `start + sum(phases)`, each phase entered in order after the claim at `start`. */
export function doneToken(
  type: string,
  id: string,
  start: number,
  phases: Phases,
  host = 'wn1',
): StoredToken {
  const times: Record<string, number> = { locked: start };
  let t = start;
  for (const [phase, seconds] of phases) {
    times[phase] = t;
    t += seconds;
  }
  times.done = t;
  return {
    ...base(type, id),
    lock: start,
    done: t,
    status: 'done',
    hostname: host,
    output: 0,
    exit_code: 0,
    progress: 1,
    times,
    attempts: [
      {
        n: 1,
        pilot: 'p1',
        host,
        started: start,
        ended: t,
        phase: phases.at(-1)?.[0],
        exit: 0,
        reason: 'done',
      },
    ],
  };
}

/** Failed in `phase` with `exit` at `time`, after `attempts` attempts. */
export function errorToken(
  type: string,
  id: string,
  opts: {
    time: number;
    phase: string;
    exit: number;
    message: string;
    attempts?: number;
    stderrTail?: string;
  },
): StoredToken {
  const n = opts.attempts ?? 1;
  const attempts = Array.from({ length: n }, (_, i) => ({
    n: i + 1,
    pilot: `p${i + 1}`,
    host: 'wn2',
    started: opts.time - 100 * (n - i),
    ended: opts.time - 100 * (n - i) + 50,
    phase: opts.phase,
    exit: opts.exit,
    reason: opts.message,
  }));
  return {
    ...base(type, id),
    lock: opts.time - 100,
    done: opts.time,
    status: 'error',
    hostname: 'wn2',
    output: opts.exit,
    exit_code: opts.exit,
    launcher_status: opts.message,
    times: { locked: opts.time - 100, running: opts.time - 90, error: opts.time },
    attempts,
    error: [
      {
        time: opts.time,
        message: opts.message,
        phase: opts.phase,
        exit_code: opts.exit,
        ...(opts.stderrTail ? { stderr_tail: opts.stderrTail } : {}),
      },
    ],
  };
}

/** Claimed and running; its lease ends at `expires` (in the past for a dead pilot). */
export function runningToken(
  type: string,
  id: string,
  opts: { claimed: number; expires: number; status?: string; pilot?: string; host?: string },
): StoredToken {
  const pilot = opts.pilot ?? 'p9';
  const host = opts.host ?? 'wn9';
  return {
    ...base(type, id),
    lock: opts.claimed,
    status: opts.status ?? 'running',
    hostname: host,
    progress: 0.5,
    times: { locked: opts.claimed, running: opts.claimed + 1 },
    lease: { id: `lease-${id}`, pilot, host, expires: opts.expires, renewed: opts.claimed, attempt: 1 },
    attempts: [{ n: 1, pilot, host, started: opts.claimed }],
  };
}

/** `_design/<type>` with the standard views, then the docs (attachments inline) in one `_bulk_docs`. */
export async function seedStatusTokens(t: TestDatabase, type: string, docs: StoredToken[]): Promise<void> {
  await putDesignDoc(t, type);
  await bulkDocs(t, docs);
}
