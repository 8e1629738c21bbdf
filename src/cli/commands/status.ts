import { setTimeout as sleep } from 'node:timers/promises';
import { countOf, LrtError } from '../../core';
import {
  buildStatusReport,
  chooseLogs,
  knownAttempts,
  listAttemptLogs,
  readStatusInput,
  renderAttemptLogs,
  renderStatus,
} from '../../monitor';
import { readAttachment } from '../../picas/attachments';
import { parseLogAttachmentName } from '../../picas/logNames';
import { isLogAttachment } from '../../picas/protocol';
import type { TokenDoc } from '../../picas/tokenDoc';
import { getToken } from '../../picas/tokens';
import { assertTokenType } from '../../picas/viewDefinitions';
import { type ContextWith, defineCommand } from '../command';
import { EXIT } from '../exitCodes';
import { PICAS_OPTIONS, picasFromContext } from '../picasOptions';
import { stopOnSignal } from '../stopSignal';

export const TYPE_OPTION = {
  type: { type: 'string' as const, value: 'T', description: 'token type (default PICAS_TYPE)' },
};

export function tokenType(ctx: ContextWith<{ type?: string }>): string {
  const type = ctx.options.type ?? ctx.env.PICAS_TYPE;
  if (!type) throw new LrtError('E_USAGE', 'no token type: pass --type T or set PICAS_TYPE');
  assertTokenType(type);
  return type;
}

export const status = defineCommand({
  path: ['status'],
  summary:
    'progress of a token type: counts per state, throughput, ETA, phase times, failures, stale leases, take-overs',
  json:
    '{type, database, at, states: [{state, n}], total, waiting, running, done, error, finished,\n' +
    ' progress, throughput?: {perHour, basis, windowSeconds}, etaSeconds?, phases: [{phase, median, n}],\n' +
    ' attempt?: {median, n}, failing: [{id, phase?, exit?, exitMeaning?, message, stderrTail?: [LINE],\n' +
    ' time?, attempts}], stale: [{id, pilot, host, attempt, expires, expiredFor}],\n' +
    ' takenOver: [{id, by, lock?, pilot?, host?}], finishedViews, sample: {read, of},\n' +
    ' slowReads: [{read, seconds}]};\n' +
    'with --watch: one such object per line (NDJSON)',
  description:
    'Counts come from the overview_total view of _design/finished:T (else _design/T): a token counts\n' +
    'as finished the way each tool writes it (GRID_LRT: status done/error; picasclient: a done epoch\n' +
    'with exit_code 0 or not, or lock=done=-1; grid-lrt: both). Times come from `times` and `attempts`\n' +
    'of the finished tokens, or their `lock` and `done` epochs when they have neither (at most\n' +
    '--max-docs of each state are read); stale leases from the expired view; tokens another tool\n' +
    're-locked while our pilot held them from the taken_over view. A read that took more than 1 s\n' +
    '(a large campaign, a busy server) is named with its seconds on a "Slow reads" line (slowReads).\n' +
    'With --watch the screen is redrawn every --interval seconds until Ctrl-C.\n' +
    '--json prints the report as one JSON object; with --watch one compact JSON object per line\n' +
    '(NDJSON, one per redraw), e.g. `lrt status --type T --watch --json | jq -c .progress`.',
  options: {
    ...TYPE_OPTION,
    watch: { type: 'boolean', short: 'w', description: 'redraw until Ctrl-C' },
    interval: { type: 'integer', value: 'S', description: 'seconds between redraws (default 5)' },
    rounds: { type: 'integer', value: 'N', description: 'with --watch: stop after N redraws' },
    'max-docs': { type: 'integer', value: 'N', description: 'finished tokens read for times (default 5000)' },
    rows: {
      type: 'integer',
      min: 0,
      value: 'N',
      description: 'failing tokens, stale leases and taken-over tokens listed (default 10)',
    },
    ...PICAS_OPTIONS,
  },
  examples: ['lrt status --type pref_cal1', 'lrt status --type pref_cal1 --watch --interval 10'],
  async run(ctx) {
    const type = tokenType(ctx);
    const picas = picasFromContext(ctx);
    const { watch } = ctx.options;
    if (!watch && (ctx.options.rounds !== undefined || ctx.options.interval !== undefined)) {
      // Without --watch there is one report: repeating it would print JSON documents back to back.
      throw new LrtError(
        'E_USAGE',
        `${ctx.options.rounds !== undefined ? '--rounds' : '--interval'} is for --watch: add --watch, or leave it out for one report`,
      );
    }
    const interval = ctx.options.interval ?? 5;
    const rounds = ctx.options.rounds ?? (watch ? Number.POSITIVE_INFINITY : 1);
    const maxDocs = ctx.options['max-docs'] ?? 5000;
    const maxRows = ctx.options.rows ?? 10;
    const stop = watch ? stopOnSignal() : undefined;
    try {
      for (let round = 1; round <= rounds; round++) {
        const report = buildStatusReport(await readStatusInput(picas, type, { maxDocs }));
        // A watch is a stream of reports: one compact object per line, which any JSON reader can split.
        if (watch) ctx.out.resultLine(report);
        else ctx.out.result(report);
        if (!ctx.out.json) {
          // On a terminal, redraw in place; in a log, print one block after the other.
          if (watch && process.stdout.isTTY) ctx.out.line('\x1b[H\x1b[2J');
          for (const line of renderStatus(report, { maxRows })) ctx.out.line(line);
          if (watch && round < rounds) ctx.out.line();
        }
        if (round >= rounds || stop?.signal.aborted) break;
        await sleep(interval * 1000, undefined, { signal: stop?.signal }).catch(() => undefined);
        if (stop?.signal.aborted) break;
      }
    } finally {
      stop?.dispose();
    }
    return EXIT.ok;
  },
});

/** `--list`: every attempt with its pilot, host, times, exit, and the logs it left. */
function listLogs(ctx: ContextWith<{ attempt?: number; name?: string }>, doc: TokenDoc): number {
  const { attempt: wanted, name: only } = ctx.options;
  const listed = listAttemptLogs(doc);
  const attempts = listed.attempts
    .filter((a) => wanted === undefined || a.n === wanted)
    .map((a) => (only ? { ...a, logs: a.logs.filter((n) => n === only) } : a));
  if (wanted !== undefined && attempts.length === 0) {
    throw new LrtError(
      'E_ATTACHMENT',
      `token ${doc._id} has no attempt ${wanted}; attempts: ${listed.attempts.map((a) => a.n).join(', ') || 'none'}`,
      { details: { token: doc._id, attempts: listed.attempts.map((a) => a.n) } },
    );
  }
  ctx.out.result({ token: doc._id, attempts, unnumbered: listed.unnumbered });
  if (attempts.length === 0 && listed.unnumbered.length === 0)
    ctx.out.line(`token ${doc._id} has not run yet`);
  for (const line of renderAttemptLogs(attempts, listed.unnumbered)) ctx.out.line(line);
  return EXIT.ok;
}

export const logs = defineCommand({
  path: ['logs'],
  summary: 'print the logs a pilot attached to a token (stdout, stderr, pilot log of one attempt)',
  json:
    '{token, attempt, attempts: [N], logs: [{name, text}]};\n' +
    'with --list: {token, attempts: [{n, pilot, host, jobid?, started, ended?, phase?, exit?, reason?,\n' +
    ' logs: [NAME]}], unnumbered: [NAME]}',
  description:
    'Pilots attach attempt-N.stdout.log, attempt-N.stderr.log and attempt-N.pilot.log. Without\n' +
    '--attempt the latest attempt that left logs is shown; logs of older tools (*.log, *.out, *.err)\n' +
    'are shown when no numbered logs exist.',
  options: {
    attempt: { type: 'integer', value: 'N', description: 'attempt number (default: the latest)' },
    name: { type: 'string', value: 'NAME', description: 'only this attachment' },
    list: {
      type: 'boolean',
      description:
        'list every attempt (pilot, host, start, duration, exit) with its log attachments; no contents',
    },
    ...PICAS_OPTIONS,
  },
  positionals: [{ name: 'token', description: 'token id' }],
  examples: ['lrt logs t_pref_cal1_L229507_SB100', 'lrt logs t_pref_cal1_L229507_SB100 --attempt 1'],
  async run(ctx) {
    const id = ctx.positionals[0]!;
    const picas = picasFromContext(ctx);
    const doc = await getToken(picas, id);
    if (ctx.options.list) return listLogs(ctx, doc);
    const only = ctx.options.name;
    // --name attempt-1.stderr.log names its attempt: look there, not in the latest attempt.
    const wanted = ctx.options.attempt ?? (only ? parseLogAttachmentName(only)?.attempt : undefined);
    const choice = chooseLogs(doc, wanted);
    let names = choice.names;
    if (only) names = names.filter((n) => n === only);
    if (names.length === 0) {
      const logNames = Object.keys(doc._attachments ?? {}).filter(
        (n) => parseLogAttachmentName(n) !== undefined || isLogAttachment(n),
      );
      const known =
        only && logNames.length
          ? `; its logs: ${logNames.join(', ')}`
          : choice.attempts.length
            ? `; attempts with logs: ${choice.attempts.join(', ')}`
            : '';
      const tried = knownAttempts(doc);
      const what = wanted !== undefined ? ` for attempt ${wanted}` : '';
      throw new LrtError(
        'E_ATTACHMENT',
        `token ${id} has no log attachments${what}${only ? ` named ${only}` : ''}${known}` +
          (tried.length && !known
            ? ` (it had ${countOf(tried.length, 'attempt')}; logs are attached when an attempt ends)`
            : ''),
        { details: { token: id, attempts: choice.attempts } },
      );
    }
    const contents: { name: string; text: string }[] = [];
    for (const name of names) {
      const { data } = await readAttachment(picas, id, name);
      contents.push({ name, text: data.toString('utf8') });
    }
    ctx.out.result({ token: id, attempt: choice.attempt ?? null, attempts: choice.attempts, logs: contents });
    for (const { name, text } of contents) {
      ctx.out.line(`==> ${name} <==`);
      ctx.out.line(text.endsWith('\n') ? text.slice(0, -1) : text);
    }
    return EXIT.ok;
  },
});

export const statusCommands = [status, logs];
