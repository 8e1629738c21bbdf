/**
 * The batch and grid tools' job states, read from their output and put on one scale. Pure: the
 * tools are run by jobs.ts; the parsers are tested on published real output
 * (test/fixtures/submit/tools).
 */

export type JobState = 'pending' | 'running' | 'done' | 'failed' | 'cancelled' | 'unknown';

export interface JobStatus {
  /** The id the tool knows the job by (Slurm: `<array job>_<task>`). */
  id: string;
  state: JobState;
  /** The tool's own words: its state, reason, site or exit code. */
  detail: string;
  /** A gLite parametric parent: its state is a summary of its nodes, not a job of its own. */
  parent?: boolean;
}

const SLURM: Record<string, JobState> = {
  PENDING: 'pending',
  REQUEUED: 'pending',
  SUSPENDED: 'pending',
  CONFIGURING: 'running',
  RUNNING: 'running',
  COMPLETING: 'running',
  COMPLETED: 'done',
  CANCELLED: 'cancelled',
  FAILED: 'failed',
  TIMEOUT: 'failed',
  NODE_FAIL: 'failed',
  BOOT_FAIL: 'failed',
  OUT_OF_MEMORY: 'failed',
  DEADLINE: 'failed',
  PREEMPTED: 'failed',
};

/** `squeue -h -r -t all -o '%i|%T|%M|%R'` lines. */
export function parseSqueue(stdout: string): JobStatus[] {
  return lines(stdout).map((line) => {
    const [id = '', state = '', time = '', reason = ''] = line.split('|');
    return { id, state: SLURM[state] ?? 'unknown', detail: [state, time, reason].filter(Boolean).join(' ') };
  });
}

/** `sacct -n -P -X -o JobID,State,ExitCode` lines (State may read "CANCELLED by 0"). */
export function parseSacct(stdout: string): JobStatus[] {
  return lines(stdout).map((line) => {
    const [id = '', state = '', exit = ''] = line.split('|');
    const word = state.split(' ')[0] ?? '';
    return { id, state: SLURM[word] ?? 'unknown', detail: `${state} exit ${exit}` };
  });
}

/** gLite's words; "Done(Exit Code !=0)" and "Done(Success)" are both Done. */
function gliteState(status: string): JobState {
  const s = status.toLowerCase();
  if (s.startsWith('done')) return /exit code\s*!=\s*0|failed/.test(s) ? 'failed' : 'done';
  if (s.startsWith('cleared')) return 'done';
  if (s.startsWith('running')) return 'running';
  if (s.startsWith('aborted')) return 'failed';
  if (s.startsWith('cancelled')) return 'cancelled';
  if (/^(submitted|waiting|ready|scheduled)/.test(s)) return 'pending';
  return 'unknown';
}

/**
 * `glite-wms-job-status` blocks: "Status info for the Job : URL", "Current Status: ...". A
 * parametric job prints its parent first and its nodes after "- Nodes information for:".
 */
export function parseGliteStatus(stdout: string): JobStatus[] {
  const out: JobStatus[] = [];
  let current: JobStatus | undefined;
  let inNodes = false;
  for (const line of stdout.split('\n')) {
    if (/^\s*- Nodes information/.test(line)) inNodes = true;
    const job = /Status info for the Job\s*:\s*(\S+)/.exec(line);
    if (job) {
      current = { id: job[1]!, state: 'unknown', detail: '' };
      out.push(current);
      if (!inNodes) current.parent = false;
      continue;
    }
    const field = /^\s*(Current Status|Status Reason|Destination|Exit code):\s*(.*?)\s*$/.exec(line);
    if (!current || !field) continue;
    if (field[1] === 'Current Status') current.state = gliteState(field[2]!);
    if (field[2] && field[2] !== 'unavailable')
      current.detail = current.detail ? `${current.detail}; ${field[2]}` : field[2]!;
  }
  // With nodes, the first block is the parametric parent.
  if (out.length > 1 && inNodes) out[0]!.parent = true;
  for (const job of out) if (job.parent === false) delete job.parent;
  return out;
}

const DIRAC: Record<string, JobState> = {
  received: 'pending',
  checking: 'pending',
  staging: 'pending',
  waiting: 'pending',
  matched: 'pending',
  rescheduled: 'pending',
  running: 'running',
  completing: 'running',
  completed: 'running',
  done: 'done',
  failed: 'failed',
  stalled: 'failed',
  killed: 'cancelled',
  deleted: 'cancelled',
};

/** `dirac-wms-job-status` lines: `JobID=N Status=X; MinorStatus=...; Site=...;` (any order). */
export function parseDiracStatus(stdout: string): JobStatus[] {
  const out: JobStatus[] = [];
  for (const line of lines(stdout)) {
    const id = /^JobID=(\d+)/.exec(line)?.[1];
    if (!id) continue;
    const fields: Record<string, string> = {};
    for (const part of line.replace(/^JobID=\d+\s*/, '').split(';')) {
      const m = /^\s*(\w+)=(.*)$/.exec(part);
      if (m) fields[m[1]!] = m[2]!.trim();
    }
    const status = fields.Status ?? '';
    out.push({
      id,
      state: DIRAC[status.toLowerCase()] ?? 'unknown',
      detail: [status, fields.MinorStatus, fields.Site].filter(Boolean).join('; '),
    });
  }
  return out;
}

const ARC: Record<string, JobState> = {
  accepted: 'pending',
  preparing: 'pending',
  submitting: 'pending',
  queuing: 'pending',
  hold: 'pending',
  running: 'running',
  finishing: 'running',
  finished: 'done',
  failed: 'failed',
  killed: 'cancelled',
  deleted: 'cancelled',
};

/**
 * `arcstat` blocks: "Job: ID", then " Name:", " State: Finished (FINISHED)", " Exit Code: N".
 * Reads the fields wherever they are on the line (some pages show Name and State on one).
 */
export function parseArcStatus(stdout: string): JobStatus[] {
  const out: JobStatus[] = [];
  let current: JobStatus | undefined;
  for (const line of stdout.split('\n')) {
    const job = /^Job:\s*(\S+)/.exec(line.trim());
    if (job) {
      current = { id: job[1]!, state: 'unknown', detail: '' };
      out.push(current);
      continue;
    }
    if (!current) continue;
    const state = /State:\s*(\w+)(?:\s*\(([^)]*)\))?/.exec(line);
    if (state) {
      current.state = ARC[state[1]!.toLowerCase()] ?? 'unknown';
      current.detail = state[2] ? `${state[1]} (${state[2]})` : state[1]!;
    }
    const exit = /Exit Code:\s*(-?\d+)/.exec(line);
    if (exit) {
      current.detail += ` exit ${exit[1]}`;
      if (current.state === 'done' && exit[1] !== '0') current.state = 'failed';
    }
  }
  return out;
}

/** Jobs per state, for a summary line (a gLite parent is left out when it has nodes). */
export function countStates(jobs: readonly JobStatus[]): Record<JobState, number> {
  const counts: Record<JobState, number> = {
    pending: 0,
    running: 0,
    done: 0,
    failed: 0,
    cancelled: 0,
    unknown: 0,
  };
  for (const job of jobs) if (!job.parent) counts[job.state]++;
  return counts;
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}
