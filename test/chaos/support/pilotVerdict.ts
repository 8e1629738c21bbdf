import { type FleetPilot, logLines, summaryOf } from './pilotFleet';

/** What the pilot processes did through the chaos, from their exits, summaries and JSON logs. */
export interface PilotVerdict {
  /** Pilots that ended otherwise than: exit 0, stopped by the TERM sent, or killed by the KILL sent. */
  badExits: string[];
  /** Pilots that logged a database wait during the outage (and were not SIGKILLed). */
  waitedOut: number[];
  /** Of those, the ones not stopped during the outage that logged nothing after it: they gave up. */
  neverResumed: number[];
  /** Of those, the ones that finished tokens after the database came back. */
  finishedAfter: number[];
  /** Sums of the pilots' --json summaries. */
  reported: { lost: number; released: number; unrecorded: number };
}

const DB_WAIT_LOG = /database unavailable|heartbeat failed/;

function cleanExit(pilot: FleetPilot): boolean {
  const end = pilot.ended;
  if (end?.exitCode === 0) return true;
  // A TERM before the handlers are installed (or after they are gone) ends a pilot holding no token.
  if (pilot.sent === 'SIGTERM') return end?.exitCode === 143 || end?.signal === 'SIGTERM';
  return pilot.sent === 'SIGKILL' && end?.signal === 'SIGKILL';
}

export async function judgePilots(
  pilots: FleetPilot[],
  outage: { downAt: number; upAt: number } | undefined,
): Promise<PilotVerdict> {
  const verdict: PilotVerdict = {
    badExits: [],
    waitedOut: [],
    neverResumed: [],
    finishedAfter: [],
    reported: { lost: 0, released: 0, unrecorded: 0 },
  };
  for (const pilot of pilots) {
    const summary = summaryOf(pilot);
    for (const k of ['lost', 'released', 'unrecorded'] as const) verdict.reported[k] += summary?.[k] ?? 0;
    if (!cleanExit(pilot)) {
      const end = pilot.ended;
      verdict.badExits.push(
        `pilot ${pilot.n}: exit ${end?.exitCode} signal ${end?.signal} sent ${pilot.sent}`,
      );
    }
    if (!outage || pilot.sent === 'SIGKILL') continue;
    const lines = (await logLines(pilot)).map((l) => ({ ...l, at: Date.parse(l.time) }));
    if (!lines.some((l) => DB_WAIT_LOG.test(l.msg) && l.at >= outage.downAt && l.at <= outage.upAt)) continue;
    verdict.waitedOut.push(pilot.n);
    const after = lines.filter((l) => l.at > outage.upAt);
    const stoppedDuring = pilot.sent === 'SIGTERM' && (pilot.sentAt ?? 0) <= outage.upAt;
    // A pilot whose lease ran out unrenewed gives its token up during the outage (docs/protocol.md,
    // Lease safety); reaching --max-time then, it ends cleanly before the database is back.
    const endedByItselfDuring =
      pilot.ended !== undefined && pilot.ended.at <= outage.upAt && summary?.stoppedBy === 'max-time';
    if (after.length === 0 && !stoppedDuring && !endedByItselfDuring) verdict.neverResumed.push(pilot.n);
    if (after.some((l) => l.msg === 'done' || l.msg === 'failed')) verdict.finishedAfter.push(pilot.n);
  }
  return verdict;
}
