import type { TokenDoc } from '../picas/client';
import { LOG_KINDS, parseLogAttachmentName } from '../picas/logNames';
import { attemptsOf, isLogAttachment } from '../picas/protocol';

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
