import { loadavg } from 'node:os';

/** Figures and verdicts of bench/stage-in: a markdown table, PASS/FAIL lines, the JSON record. */

export interface Timing {
  /** Short key for the JSON record. */
  key: string;
  /** What was run, for the table. */
  way: string;
  bytes: number;
  seconds: number;
  /** Extra context: start-up, wall time of the child, ... */
  note?: string;
  /** CPU seconds: every process we ran (tools, the stage-in child) and the GridFTP server's sessions. */
  cpu?: { client: number; server: number };
}

export interface Verdict {
  target: string;
  measured: string;
  pass: boolean;
}

export const MB = 1e6;

export function mbps(t: Timing): number {
  return t.bytes / MB / t.seconds;
}

function fixed(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

/** A table of timings with MB/s and each one's speed relative to the named references. */
export function timingTable(
  rows: readonly Timing[],
  refs: readonly { label: string; ref: Timing }[],
): string {
  const withCpu = rows.some((t) => t.cpu);
  const head = [
    'way',
    'seconds',
    'MB/s',
    ...refs.map((r) => r.label),
    ...(withCpu ? ['CPU s ours / server'] : []),
    'note',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const t of rows) {
    const cells = [t.way, fixed(t.seconds, 2), fixed(mbps(t))];
    for (const r of refs) cells.push(`${fixed(r.ref.seconds / t.seconds, 2)}x`);
    if (withCpu) cells.push(t.cpu ? `${fixed(t.cpu.client, 2)} / ${fixed(t.cpu.server, 2)}` : '');
    cells.push(t.note ?? '');
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

export function verdictLines(verdicts: readonly Verdict[]): string {
  return verdicts.map((v) => `${v.pass ? 'PASS' : 'FAIL'} ${v.target}: ${v.measured}`).join('\n');
}

/** The 1-, 5- and 15-minute load averages: the machine is shared, so the figures say how busy it was. */
export function load(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

export function timingRecord(t: Timing) {
  return {
    way: t.way,
    bytes: t.bytes,
    seconds: Number(t.seconds.toFixed(3)),
    mbPerSecond: Number(mbps(t).toFixed(1)),
    ...(t.note ? { note: t.note } : {}),
    ...(t.cpu
      ? { cpuSeconds: { ours: Number(t.cpu.client.toFixed(2)), server: Number(t.cpu.server.toFixed(2)) } }
      : {}),
  };
}
