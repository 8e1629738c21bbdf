/**
 * The chaos payload and its ledger. Every run of master.sh appends a `start` line before it works
 * and an `end` line after (O_APPEND, one short line per write, so lines from concurrent runs never
 * interleave), and prints its run id on stdout, which the pilot attaches to the token as
 * attempt-N.stdout.log. The ledger is what really ran; the token is what was committed.
 */

/** The payload: sleeps 0-300 ms; tokens with CHAOS_FAIL=1 exit 3 (they are meant to end in error). */
export const CHAOS_MASTER_SH = `#!/usr/bin/env bash
set -u
run="r\${RANDOM}\${RANDOM}x$$"
echo "start $TOKEN \${PILOT_ATTEMPT:-none} \${PILOT_LEASE_ID:-none} $run \${EPOCHREALTIME/./}" >> "$CHAOS_LEDGER"
echo "chaos-run $run token $TOKEN attempt \${PILOT_ATTEMPT:-none}"
sleep "0.$(printf '%03d' $((RANDOM % 300)))"
code=0
if [ "\${CHAOS_FAIL:-0}" = "1" ]; then echo "failing on purpose" >&2; code=3; fi
echo "end $TOKEN \${PILOT_ATTEMPT:-none} \${PILOT_LEASE_ID:-none} $run \${EPOCHREALTIME/./} $code" >> "$CHAOS_LEDGER"
exit $code
`;

/** The exit code of the tokens that are meant to fail. */
export const CHAOS_FAIL_EXIT = 3;

export interface PayloadRun {
  run: string;
  token: string;
  /** The lease attempt the pilot gave it (PILOT_ATTEMPT); NaN when the pilot gave none. */
  attempt: number;
  lease: string;
  /** Epoch microseconds. */
  startedUs: number;
  endedUs?: number;
  exitCode?: number;
}

export interface Ledger {
  runs: Map<string, PayloadRun>;
  /** Lines that do not parse, or an end without a start: the ledger itself is broken. */
  problems: string[];
}

/** Parses the ledger file's text. */
export function parseLedger(text: string): Ledger {
  const runs = new Map<string, PayloadRun>();
  const problems: string[] = [];
  const ends: string[][] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const f = line.split(' ');
    if (f[0] === 'start' && f.length === 6) {
      const [, token, attempt, lease, run, us] = f as [string, string, string, string, string, string];
      if (runs.has(run)) problems.push(`run id ${run} started twice`);
      runs.set(run, { run, token, attempt: Number(attempt), lease, startedUs: Number(us) });
    } else if (f[0] === 'end' && f.length === 7) {
      ends.push(f);
    } else {
      problems.push(`unreadable ledger line: ${JSON.stringify(line)}`);
    }
  }
  for (const [, token, , , run, us, code] of ends) {
    const started = runs.get(run!);
    if (!started || started.token !== token) {
      problems.push(`end of run ${run} (token ${token}) without its start`);
      continue;
    }
    started.endedUs = Number(us);
    started.exitCode = Number(code);
  }
  return { runs, problems };
}

/** "chaos-run R token T attempt N" from a committed stdout log. */
export function runIdInStdout(stdout: string): { run: string; token: string; attempt: number } | undefined {
  const match = /^chaos-run (\S+) token (\S+) attempt (\S+)$/m.exec(stdout);
  if (!match) return undefined;
  return { run: match[1]!, token: match[2]!, attempt: Number(match[3]) };
}
