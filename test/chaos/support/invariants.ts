import { parseLogAttachmentName } from '../../../src/picas/logNames';
import { type AttemptRecord, attemptsOf, LEASE_EXPIRED } from '../../../src/picas/protocol';
import type { TokenDoc } from '../../../src/picas/tokenDoc';
import { CHAOS_FAIL_EXIT, type Ledger, type PayloadRun, runIdInStdout } from './ledger';

/**
 * What must hold after the chaos, whatever happened: checked on the final tokens against the
 * ledger of what really ran. Pure, so it is tested on its own with broken histories.
 */

export interface FinalToken {
  doc: TokenDoc;
  /** attempt-N.stdout.log of the attempt that finished the token (undefined: not attached). */
  committedStdout: string | undefined;
}

export interface ChaosExpectation {
  ids: string[];
  /** Tokens whose payload exits CHAOS_FAIL_EXIT: they must end in error, the others done. */
  failing: Set<string>;
}

export interface ChaosFigures {
  tokens: number;
  done: number;
  error: number;
  payloadRuns: number;
  /** Runs whose result was not the committed one (pilot killed, stopped, or its lease expired). */
  duplicateRuns: number;
  /** Tokens whose payload started more than once. */
  tokensRunTwice: number;
  /** Duplicate runs whose lease expired: another pilot reclaimed the token, this one was fenced. */
  fencedByExpiry: number;
  /** Duplicate runs given back by a stopped pilot (SIGTERM). */
  fencedByRelease: number;
  /** Attempts closed as `lease expired` (a pilot died, stalled or lost its claim reply). */
  reclaims: number;
  releases: number;
}

export interface ChaosVerdict {
  violations: string[];
  figures: ChaosFigures;
}

const RELEASED = 'pilot stopped by a signal';

function isFinishRecord(a: AttemptRecord): boolean {
  return a.exit !== undefined;
}

/** Checks one finished token: state, the attempt that finished it, and the run it committed. */
function checkFinal(
  id: string,
  token: FinalToken | undefined,
  failing: boolean,
  runs: Map<string, PayloadRun>,
  violations: string[],
): string | undefined {
  if (!token) {
    violations.push(`token ${id} is missing`);
    return undefined;
  }
  const { doc } = token;
  const want = failing ? 'error' : 'done';
  if (doc.status !== want || !(Number(doc.done) > 0)) {
    const why = doc.launcher_status ? ` (${String(doc.launcher_status).slice(0, 300)})` : '';
    violations.push(
      `token ${id}: status ${String(doc.status)}, done ${String(doc.done)}; expected ${want}${why}`,
    );
    return undefined;
  }
  if (doc.lease !== undefined) violations.push(`token ${id}: finished but still holds a lease`);
  const wantExit = failing ? CHAOS_FAIL_EXIT : 0;
  if (doc.exit_code !== wantExit)
    violations.push(`token ${id}: exit_code ${String(doc.exit_code)}, expected ${wantExit}`);
  const attempts = attemptsOf(doc);
  const finishes = attempts.filter(isFinishRecord);
  const last = attempts.at(-1);
  if (finishes.length !== 1 || !last || !isFinishRecord(last)) {
    violations.push(`token ${id}: ${finishes.length} finishing attempts (expected exactly one, the last)`);
    return undefined;
  }
  if (token.committedStdout === undefined) {
    violations.push(`token ${id}: no stdout log of attempt ${last.n}, the one that finished it`);
    return undefined;
  }
  const committed = runIdInStdout(token.committedStdout);
  if (!committed) {
    violations.push(`token ${id}: the stdout of attempt ${last.n} names no payload run`);
    return undefined;
  }
  const run = runs.get(committed.run);
  if (!run) {
    violations.push(`token ${id}: committed run ${committed.run} is not in the ledger`);
    return undefined;
  }
  if (run.token !== id || run.attempt !== last.n || committed.attempt !== last.n) {
    violations.push(
      `token ${id}: committed result of run ${run.run} (token ${run.token}, attempt ${run.attempt}) belongs to another lease than attempt ${last.n}, which finished the token`,
    );
  }
  if (run.exitCode !== last.exit) {
    violations.push(
      `token ${id}: attempt ${last.n} recorded exit ${last.exit}, its run ${run.run} ended with ${String(run.exitCode)}`,
    );
  }
  return run.run;
}

export function checkChaosInvariants(
  tokens: FinalToken[],
  expected: ChaosExpectation,
  ledger: Ledger,
): ChaosVerdict {
  const violations = [...ledger.problems];
  const byId = new Map(tokens.map((t) => [t.doc._id, t]));
  const figures: ChaosFigures = {
    tokens: expected.ids.length,
    done: 0,
    error: 0,
    payloadRuns: ledger.runs.size,
    duplicateRuns: 0,
    tokensRunTwice: 0,
    fencedByExpiry: 0,
    fencedByRelease: 0,
    reclaims: 0,
    releases: 0,
  };
  const committedRuns = new Set<string>();
  for (const id of expected.ids) {
    const token = byId.get(id);
    if (token?.doc.status === 'done') figures.done++;
    if (token?.doc.status === 'error') figures.error++;
    const run = checkFinal(id, token, expected.failing.has(id), ledger.runs, violations);
    if (run) committedRuns.add(run);
    for (const a of token ? attemptsOf(token.doc) : []) {
      if (a.reason === LEASE_EXPIRED) figures.reclaims++;
      if (a.reason === RELEASED) figures.releases++;
    }
  }

  const runsPerToken = new Map<string, number>();
  const seenLeases = new Map<string, string>();
  for (const run of ledger.runs.values()) {
    runsPerToken.set(run.token, (runsPerToken.get(run.token) ?? 0) + 1);
    const leaseKey = `${run.token} attempt ${run.attempt}`;
    if (!Number.isInteger(run.attempt))
      violations.push(`run ${run.run} of ${run.token}: the pilot gave no attempt`);
    else if (seenLeases.has(leaseKey))
      violations.push(`${leaseKey} ran its payload twice (runs ${seenLeases.get(leaseKey)} and ${run.run})`);
    seenLeases.set(leaseKey, run.run);
    if (committedRuns.has(run.run)) continue;
    figures.duplicateRuns++;
    checkDuplicate(run, byId.get(run.token), violations, figures);
  }
  for (const n of runsPerToken.values()) if (n > 1) figures.tokensRunTwice++;
  return { violations, figures };
}

/** A run that did not finish its token: it must be on record as taken away, and have committed nothing. */
function checkDuplicate(
  run: PayloadRun,
  token: FinalToken | undefined,
  violations: string[],
  figures: ChaosFigures,
): void {
  if (!token) {
    violations.push(`run ${run.run} of unknown token ${run.token}`);
    return;
  }
  const record = attemptsOf(token.doc).find((a) => a.n === run.attempt);
  if (!record) {
    violations.push(
      `token ${run.token}: run ${run.run} of attempt ${run.attempt} ran unnoticed (no attempt record)`,
    );
    return;
  }
  if (isFinishRecord(record)) {
    violations.push(
      `token ${run.token}: attempt ${run.attempt} is recorded as finished, but its run ${run.run} is not the committed one`,
    );
    return;
  }
  const logs = Object.keys(token.doc._attachments ?? {})
    .map(parseLogAttachmentName)
    .filter((l) => l?.attempt === run.attempt);
  if (record.reason === RELEASED) {
    figures.fencedByRelease++;
    return;
  }
  if (record.reason === LEASE_EXPIRED) figures.fencedByExpiry++;
  else violations.push(`token ${run.token}: attempt ${run.attempt} closed as "${String(record.reason)}"`);
  if (logs.length > 0) {
    violations.push(`token ${run.token}: attempt ${run.attempt} lost its lease yet attached its logs`);
  }
}
