import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';

export const DIST_PILOT = resolve(__dirname, '../../../dist/pilot.js');

/** One `node dist/pilot.js` process of the fleet. */
export interface FleetPilot {
  n: number;
  child: ResultPromise<{ reject: false; stdin: 'ignore'; forceKillAfterDelay: false }>;
  logFile: string;
  startedAt: number;
  /** What the driver sent it, if anything. */
  sent?: 'SIGKILL' | 'SIGTERM';
  sentAt?: number;
  ended?: { at: number; exitCode: number | undefined; signal: string | undefined; stdout: string };
}

/** The pilot's `--json` summary (printed when it ends by itself or on SIGTERM). */
export interface PilotSummaryJson {
  claimed: number;
  done: number;
  failed: number;
  released: number;
  lost: number;
  unrecorded: number;
  stoppedBy: string;
}

export interface PilotLogLine {
  time: string;
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** Starts, kills and reaps pilot processes; all of them write JSON logs into `dir`. */
export class PilotFleet {
  readonly pilots: FleetPilot[] = [];

  constructor(
    private readonly options: {
      dir: string;
      env: Record<string, string>;
      /** The pilot's arguments (the fleet adds --log). */
      args: (n: number) => string[];
    },
  ) {}

  start(): FleetPilot {
    const n = this.pilots.length + 1;
    const logFile = join(this.options.dir, `pilot-${n}.log`);
    const child = execa('node', [DIST_PILOT, ...this.options.args(n), '--log', logFile], {
      env: this.options.env,
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      // A stopped pilot may wait out a database outage before it exits: no SIGKILL behind the TERM.
      forceKillAfterDelay: false,
    });
    const pilot: FleetPilot = { n, child, logFile, startedAt: Date.now() };
    child.then((result) => {
      pilot.ended = {
        at: Date.now(),
        exitCode: result.exitCode,
        signal: result.signal,
        stdout: String(result.stdout ?? ''),
      };
    });
    this.pilots.push(pilot);
    return pilot;
  }

  live(): FleetPilot[] {
    return this.pilots.filter((p) => !p.ended && !p.sent);
  }

  send(pilot: FleetPilot, signal: 'SIGKILL' | 'SIGTERM'): void {
    pilot.sent = signal;
    pilot.sentAt = Date.now();
    pilot.child.kill(signal);
  }

  /** Waits for every pilot to end; SIGKILLs what is left after `ms` and says how many. */
  async settle(ms: number): Promise<number> {
    const deadline = Date.now() + ms;
    while (this.pilots.some((p) => !p.ended) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    const stuck = this.pilots.filter((p) => !p.ended);
    for (const p of stuck) p.child.kill('SIGKILL');
    await Promise.all(this.pilots.map((p) => p.child));
    return stuck.length;
  }
}

export function summaryOf(pilot: FleetPilot): PilotSummaryJson | undefined {
  const text = pilot.ended?.stdout.trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text) as PilotSummaryJson;
  } catch {
    return undefined;
  }
}

export async function logLines(pilot: FleetPilot): Promise<PilotLogLine[]> {
  let text: string;
  try {
    text = await readFile(pilot.logFile, 'utf8');
  } catch {
    return [];
  }
  const lines: PilotLogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as PilotLogLine);
    } catch {
      // A pilot killed mid-write leaves half a line.
    }
  }
  return lines;
}
