import { countOf, durationCompact } from '../core';
import type { AttemptLogs } from './logs';
import type { StatusReport } from './report';

export function progressBar(fraction: number, width = 40): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const filled = Math.round(f * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function utc(epochSeconds: number): string {
  return new Date(epochSeconds * 1000)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

export interface RenderOptions {
  /** How many failing tokens and stale leases to list (all are in --json). */
  maxRows?: number;
}

/** The `lrt status` screen as lines of text. Pure. */
export function renderStatus(report: StatusReport, options: RenderOptions = {}): string[] {
  const maxRows = options.maxRows ?? 10;
  const lines: string[] = [];
  lines.push(`Tokens of type ${report.type} in ${report.database} at ${utc(report.at)}`);
  const pct = (report.progress * 100).toFixed(report.progress > 0 && report.progress < 0.01 ? 1 : 0);
  lines.push(
    `${progressBar(report.progress)} ${pct}%  ${report.finished}/${report.total} finished ` +
      `(${report.done} done, ${report.error} error)`,
  );
  lines.push(`  ${report.states.map((s) => `${s.state} ${s.n}`).join('   ')}`);
  if (!report.finishedViews) {
    lines.push(
      `  (tokens picasclient finished are not counted: _design/finished:${report.type} is missing; ` +
        `run 'lrt views finished --type ${report.type}')`,
    );
  }
  const rate = report.throughput;
  const rateText = rate
    ? `${rate.perHour < 10 ? rate.perHour.toFixed(1) : Math.round(rate.perHour)} tokens/h ` +
      `(${rate.basis === 'recent' ? `last ${durationCompact(rate.windowSeconds)}` : `over ${durationCompact(rate.windowSeconds)}`})`
    : 'no token finished yet';
  const etaText =
    report.total === 0
      ? 'no tokens'
      : report.etaSeconds === undefined
        ? 'unknown'
        : report.etaSeconds === 0
          ? 'all finished'
          : durationCompact(report.etaSeconds);
  lines.push(`Throughput ${rateText}   ETA ${etaText}`);
  if (report.sample.read < report.sample.of) {
    lines.push(`  (times from ${report.sample.read} of ${report.sample.of} finished tokens)`);
  }
  if (report.phases.length > 0) {
    lines.push(
      `Median time per phase: ${report.phases.map((p) => `${p.phase} ${durationCompact(p.median)}`).join(', ')}`,
    );
  }
  if (report.attempt) {
    lines.push(
      `Median attempt ${durationCompact(report.attempt.median)} over ${countOf(report.attempt.n, 'attempt')}`,
    );
  }
  if (report.failing.length > 0) {
    lines.push(`Failing tokens (${report.failing.length}, newest first):`);
    for (const f of report.failing.slice(0, maxRows)) {
      const exit =
        f.exit === undefined ? undefined : `exit ${f.exit}${f.exitMeaning ? ` (${f.exitMeaning})` : ''}`;
      const where = [f.phase, exit, countOf(f.attempts, 'attempt')].filter(Boolean).join(', ');
      lines.push(`  ${f.id}  [${where}]  ${oneLine(f.message, 100)}`);
      for (const line of f.stderrTail ?? []) lines.push(`      stderr| ${line}`);
    }
    if (report.failing.length > maxRows) lines.push(`  ... ${report.failing.length - maxRows} more (--json)`);
  }
  if (report.stale.length > 0) {
    lines.push(
      `Stale leases (${report.stale.length}): the pilot stopped renewing; any pilot may reclaim them`,
    );
    for (const s of report.stale.slice(0, maxRows)) {
      lines.push(
        `  ${s.id}  pilot ${s.pilot ?? '?'} on ${s.host ?? '?'}, attempt ${s.attempt ?? '?'}, expired ${durationCompact(s.expiredFor)} ago`,
      );
    }
    if (report.stale.length > maxRows) lines.push(`  ... ${report.stale.length - maxRows} more (--json)`);
  }
  if (report.takenOver.length > 0) {
    lines.push(
      `Taken over by another tool (${report.takenOver.length}): our pilot stopped and wrote nothing; the other tool's result counts`,
    );
    for (const t of report.takenOver.slice(0, maxRows)) {
      const when = t.lock !== undefined ? ` at ${utc(t.lock)}` : '';
      lines.push(
        `  ${t.id}  lock changed by ${t.by}${when}, ${t.finished ? 'finished by it' : 'still running there'}; ` +
          `our pilot ${t.pilot ?? '?'} on ${t.host ?? '?'}`,
      );
    }
    if (report.takenOver.length > maxRows)
      lines.push(`  ... ${report.takenOver.length - maxRows} more (--json)`);
  }
  if (report.slowReads.length > 0) {
    const reads = report.slowReads.map((r) => `${r.read} ${r.seconds.toFixed(1)} s`).join(', ');
    lines.push(`Slow reads: ${reads}`);
  }
  return lines;
}

/**
 * `lrt logs TOKEN --list`: one line per attempt (who ran it, when, how it ended), its log
 * attachments under it. Pure.
 */
export function renderAttemptLogs(attempts: readonly AttemptLogs[], unnumbered: readonly string[]): string[] {
  const lines: string[] = [];
  for (const a of attempts) {
    const who = a.pilot
      ? `pilot ${a.pilot} on ${a.host ?? '?'}${a.jobid ? ` (job ${a.jobid})` : ''}`
      : 'pilot unknown';
    const when =
      a.started === undefined
        ? ''
        : `  ${utc(a.started)}${a.ended !== undefined ? `, ${durationCompact(a.ended - a.started)}` : ', running or cut off'}`;
    const end =
      a.ended === undefined
        ? ''
        : `  ${a.exit !== undefined ? `exit ${a.exit}` : 'no exit code'}${a.phase ? ` in ${a.phase}` : ''}` +
          (a.reason && a.reason !== 'done'
            ? `: ${oneLine(a.reason, 100)}`
            : a.reason === 'done'
              ? ': done'
              : '');
    lines.push(`attempt ${a.n}  ${who}${when}${end}`);
    lines.push(a.logs.length ? `  ${a.logs.join('  ')}` : '  (no logs attached)');
  }
  if (unnumbered.length) lines.push(`logs of older tools: ${unnumbered.join('  ')}`);
  return lines;
}
