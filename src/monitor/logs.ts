import { LOG_KINDS, parseLogAttachmentName } from '../picas/logNames';
import { attemptsOf, isLogAttachment } from '../picas/protocol';
import type { TokenDoc } from '../picas/tokenDoc';

export interface LogChoice {
  /** The attempt whose logs were chosen; undefined for tokens whose logs carry no attempt. */
  attempt?: number;
  /** Attachment names, stdout, stderr, pilot first, then other log files by name. */
  names: string[];
  /** Attempts that have log attachments, ascending. */
  attempts: number[];
}

/**
 * Which log attachments to show: those of `attempt` (default: the latest attempt that left logs).
 * Pilots name them `attempt-N.{stdout,stderr,pilot}.log`; logs of older tools (`*.log`, `*.out`,
 * `*.err`) carry no attempt and are shown when no numbered log exists. Pure.
 */
export function chooseLogs(doc: TokenDoc, attempt?: number): LogChoice {
  const names = Object.keys(doc._attachments ?? {});
  const numbered = names
    .map((name) => ({ name, parsed: parseLogAttachmentName(name) }))
    .filter((x): x is { name: string; parsed: NonNullable<typeof x.parsed> } => x.parsed !== undefined);
  const attempts = [...new Set(numbered.map((x) => x.parsed.attempt))].sort((a, b) => a - b);
  if (attempts.length === 0) {
    const plain = names.filter(isLogAttachment).sort();
    return { names: attempt === undefined ? plain : [], attempts };
  }
  const chosen = attempt ?? attempts.at(-1)!;
  const kindOrder = (name: string) => LOG_KINDS.indexOf(parseLogAttachmentName(name)!.kind);
  const chosenNames = numbered
    .filter((x) => x.parsed.attempt === chosen)
    .map((x) => x.name)
    .sort((a, b) => kindOrder(a) - kindOrder(b));
  return { attempt: chosen, names: chosenNames, attempts };
}

/** Attempt numbers the token knows of (from `attempts`), for messages about a missing attempt. */
export function knownAttempts(doc: TokenDoc): number[] {
  return attemptsOf(doc).map((a) => a.n);
}

/** One attempt of a token with the log attachments it left: what `lrt logs TOKEN --list` shows. */
export interface AttemptLogs {
  n: number;
  pilot?: string;
  host?: string;
  jobid?: string;
  /** Epoch seconds. */
  started?: number;
  ended?: number;
  phase?: string;
  exit?: number;
  reason?: string;
  /** Its log attachments, stdout, stderr, pilot first. */
  logs: string[];
}

/**
 * Every attempt the token records (`attempts`, the last 20) and every attempt that left numbered
 * logs, ascending, each with its logs; `unnumbered` are the logs of older tools. Pure.
 */
export function listAttemptLogs(doc: TokenDoc): { attempts: AttemptLogs[]; unnumbered: string[] } {
  const byN = new Map<number, AttemptLogs>();
  for (const a of attemptsOf(doc)) {
    byN.set(a.n, {
      n: a.n,
      pilot: a.pilot,
      host: a.host,
      ...(a.jobid ? { jobid: a.jobid } : {}),
      started: a.started,
      ...(a.ended !== undefined ? { ended: a.ended } : {}),
      ...(a.phase ? { phase: a.phase } : {}),
      ...(a.exit !== undefined ? { exit: a.exit } : {}),
      ...(a.reason ? { reason: a.reason } : {}),
      logs: [],
    });
  }
  const { attempts: withLogs } = chooseLogs(doc);
  for (const n of withLogs) {
    const entry = byN.get(n) ?? { n, logs: [] };
    entry.logs = chooseLogs(doc, n).names;
    byN.set(n, entry);
  }
  const unnumbered = withLogs.length === 0 ? chooseLogs(doc).names : [];
  return { attempts: [...byN.values()].sort((a, b) => a.n - b.n), unnumbered };
}
