import { countOf, LrtError } from '../../core';
import type { BulkProgress, BulkUpdateReport } from '../../picas/bulkUpdate';
import type { PicasDb } from '../../picas/client';
import { assertTokenType } from '../../picas/viewDefinitions';
import { deleteView, purgeType, resetView, setViewStatus, type ViewOpOptions } from '../../picas/viewOps';
import { resolveView, tokenOverview, viewRows } from '../../picas/viewQuery';
import { type CommandContext, type ContextWith, defineCommand, requiredOption } from '../command';
import { EXIT } from '../exitCodes';
import { defineOptions } from '../options';
import type { Progress } from '../output';
import { PICAS_OPTIONS, type PicasValues, picasFromContext } from '../picasOptions';
import { stopOnSignal } from '../stopSignal';

const TYPE = defineOptions({
  type: { type: 'string', value: 'T', description: 'token type (design document _design/T)' },
});
const BULK = defineOptions({
  'dry-run': { type: 'boolean', description: 'show what would change (before -> after), write nothing' },
  'batch-size': {
    type: 'integer',
    value: 'N',
    description: 'tokens per read and per _bulk_docs request (default 500)',
  },
});
const MAX_FAILURES_SHOWN = 20;

function open(ctx: ContextWith<{ type?: string } & PicasValues>): { picas: PicasDb; type: string } {
  const type = requiredOption(ctx, 'type');
  assertTokenType(type);
  return { picas: picasFromContext(ctx), type };
}

/**
 * Runs `work` with the bulk options from the flags: a progress bar on stderr once there is work to
 * show, and Ctrl-C stopping between two pages (report() then says what was done).
 */
async function withBulk<T>(
  ctx: ContextWith<BulkValues>,
  label: string,
  work: (options: ViewOpOptions) => Promise<T>,
): Promise<T> {
  const bulk = bulkOptions(ctx, label);
  try {
    return await work(bulk.options);
  } finally {
    bulk.finish();
  }
}

type BulkValues = { 'dry-run': boolean; 'batch-size'?: number };

export function bulkOptions(
  ctx: ContextWith<BulkValues>,
  label: string,
): { options: ViewOpOptions; finish(): void } {
  let bar: Progress | undefined;
  let shown = 0;
  const onProgress = (p: BulkProgress) => {
    bar ??= ctx.out.progress(label, p.total);
    bar.tick(p.processed - shown);
    shown = p.processed;
  };
  // Ctrl-C stops between two pages; report() then says what was done and how to go on.
  const stop = stopOnSignal();
  const options: ViewOpOptions = {
    dryRun: ctx.options['dry-run'],
    pageSize: ctx.options['batch-size'] ?? 500,
    onProgress,
    signal: stop.signal,
  };
  return {
    options,
    finish: () => {
      stop.dispose();
      bar?.done();
    },
  };
}

function tokens(n: number): string {
  return countOf(n, 'token');
}

function show(value: unknown): string {
  return value === undefined ? '(none)' : JSON.stringify(value);
}

/**
 * Prints the outcome of a bulk operation; `what` is e.g. "reset 12 tokens". Returns 6 (partial)
 * when some tokens failed.
 */
export function report(
  ctx: CommandContext,
  verb: string,
  where: string,
  result: BulkUpdateReport,
  extra = {},
): number {
  const { out } = ctx;
  if (out.json) out.result({ ...result, ...extra });
  if (result.interrupted) {
    out.line(
      `interrupted: ${verb} ${tokens(result.changed)} ${where} before Ctrl-C (${result.failed.length} failed)`,
    );
    out.note(
      'only whole pages were written; run the same command again to go on (tokens already done are skipped)',
    );
    return EXIT.interrupted;
  } else if (result.dryRun) {
    out.line(`would ${verb} ${tokens(result.changed)} ${where} (${result.skipped} skipped); nothing written`);
    for (const { id, fields } of result.preview ?? []) {
      const changes = Object.entries(fields).map(([f, c]) => `${f}: ${show(c.before)} -> ${show(c.after)}`);
      out.line(`  ${id}  ${changes.join('; ')}`);
    }
  } else {
    const tail = `${result.skipped} skipped, ${result.conflictsRetried} conflicts retried, ${result.failed.length} failed`;
    out.line(`${verb}: ${tokens(result.changed)} ${where} (${tail})`);
  }
  if (result.failed.length === 0) return EXIT.ok;
  for (const f of result.failed.slice(0, MAX_FAILURES_SHOWN)) out.note(`failed: ${f.id}: ${f.error}`);
  if (result.failed.length > MAX_FAILURES_SHOWN)
    out.note(`... and ${result.failed.length - MAX_FAILURES_SHOWN} more`);
  const retried = result.failed.filter((f) => !f.notFound).length;
  if (retried > 0) out.note(`${tokens(retried)} failed; running the command again retries them`);
  const unknown = result.failed.length - retried;
  if (unknown > 0)
    out.note(
      `${countOf(unknown, 'id')} given named no token: running the command again does not change that`,
    );
  return EXIT.partial;
}

export const tokensList = defineCommand({
  path: ['tokens', 'list'],
  summary: 'list the tokens of a view (ids; whole documents with --json, one per line)',
  json: '{_id, _rev, type, lock, done, status, ...}: one token document per line, as the view is read',
  jsonLines: true,
  description:
    'Reads the view a page at a time (by key, never skip) and prints each token as it comes, so a\n' +
    'million tokens list in flat memory. With --json the output is NDJSON, as `lrt status --watch\n' +
    '--json`: one compact token document per line, nothing else; `jq -s .` makes an array of it,\n' +
    '`wc -l` counts the tokens.',
  options: {
    ...TYPE,
    view: {
      type: 'string',
      value: 'V',
      description: 'view to list (default todo); done and error: finished as every tool writes it',
    },
    limit: { type: 'integer', value: 'N', description: 'list at most N tokens' },
    ...PICAS_OPTIONS,
  },
  examples: [
    'lrt tokens list --type sksp_dev --view error',
    'lrt tokens list --type sksp_dev --limit 5 --json',
    "lrt tokens list --type sksp_dev --view error --json | jq -r '[._id, .output] | @tsv'",
  ],
  async run(ctx) {
    const { picas, type } = open(ctx);
    const view = ctx.options.view ?? 'todo';
    const { limit } = ctx.options;
    const resolved = await resolveView(picas, type, view);
    for await (const row of viewRows(picas, resolved, { includeDocs: ctx.out.json, limit })) {
      // A row whose document was deleted while we paged has nothing to show.
      if (ctx.out.json) {
        if (row.doc) ctx.out.resultLine(row.doc);
      } else ctx.out.line(row.id);
      // A reader slower than the database (a pipe into a script) must not pile the rows up here.
      await ctx.out.drained();
    }
    return EXIT.ok;
  },
});

export const tokensOverview = defineCommand({
  path: ['tokens', 'overview'],
  summary: 'count the tokens of a type per state (todo, locked, running phases, done, error ...)',
  json: '{type, counts: {STATE: N}, total}',
  options: { ...TYPE, ...PICAS_OPTIONS },
  examples: ['lrt tokens overview --type sksp_dev'],
  async run(ctx) {
    const { picas, type } = open(ctx);
    const counts = await tokenOverview(picas, type);
    const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
    if (ctx.out.json) {
      ctx.out.result({ type, counts, total });
      return EXIT.ok;
    }
    const width = Math.max(5, ...Object.keys(counts).map((k) => k.length)) + 2;
    const digits = String(total).length;
    for (const [state, n] of Object.entries(counts))
      ctx.out.line(`${state.padEnd(width)}${String(n).padStart(digits)}`);
    ctx.out.line(`${'total'.padEnd(width)}${String(total).padStart(digits)}`);
    return EXIT.ok;
  },
});

export const tokensSetStatus = defineCommand({
  path: ['tokens', 'set-status'],
  summary: 'set the status of every token in a view (locked also locks, todo frees, done/error finish)',
  json:
    '{type, view, status, changed, skipped, conflictsRetried, failed: [{id, error}], ids: [ID],\n' +
    ' dryRun, preview?: [{id, fields: {FIELD: {before, after}}}]}',
  description:
    "As GRID_LRT's set_view_to_status. 'locked' sets lock=now (the tokens leave todo), 'todo' sets\n" +
    "lock=0 and done=0, 'done' and 'error' set done=now; other statuses change only status.\n" +
    'Tokens already in that state are skipped. On the login node you normally do not lock tokens:\n' +
    'that is what the pilots do.',
  options: {
    ...TYPE,
    view: { type: 'string', value: 'V', description: 'the tokens to change: a view of _design/T' },
    status: { type: 'string', value: 'S', description: 'the new status' },
    ...BULK,
    ...PICAS_OPTIONS,
  },
  examples: ['lrt tokens set-status --type sksp_dev --view error --status todo --dry-run'],
  async run(ctx) {
    const view = requiredOption(ctx, 'view');
    const status = requiredOption(ctx, 'status');
    const { picas, type } = open(ctx);
    const result = await withBulk(ctx, `set ${status}`, (options) =>
      setViewStatus(picas, type, view, status, options),
    );
    return report(ctx, `set status ${status} on`, `of type ${type} in view ${view}`, result, {
      type,
      view,
      status,
    });
  },
});

export const tokensReset = defineCommand({
  path: ['tokens', 'reset'],
  summary: 'reset the tokens of a view to todo (scrub_count+1) so they run again',
  description:
    'lock=0, done=0, status=todo, scrub_count+1, hostname and output cleared, lease removed.\n' +
    'Tokens already free at todo are skipped. Attachments stay; --drop-attachments removes the\n' +
    'logs of earlier runs (names ending .log, .out or .err, or starting stdout/stderr).\n' +
    'A token a pilot may still be running (claimed, its lease not expired; or locked with no\n' +
    'lease by an older tool) is skipped and listed: --force takes it away from that pilot too.\n' +
    'So `--view locked` resets only the tokens of pilots that died (expired leases).',
  json: '{type, view, changed, skipped, conflictsRetried, failed: [{id, error}], dryRun,\n held: [{id, why}], preview?: [{id, fields}]}',
  options: {
    ...TYPE,
    view: {
      type: 'string',
      value: 'V',
      description: 'the tokens to reset (required): error, locked, done, or any view of _design/T',
    },
    force: {
      type: 'boolean',
      description: 'also reset tokens that pilots still hold under a live lease',
    },
    'drop-attachments': { type: 'boolean', description: 'also remove log attachments left by earlier runs' },
    ...BULK,
    ...PICAS_OPTIONS,
  },
  examples: [
    'lrt tokens reset --type sksp_dev --view error',
    'lrt tokens reset --type sksp_dev --view locked --dry-run',
    'lrt tokens reset --type sksp_dev --view locked --force',
  ],
  async run(ctx) {
    const { view } = ctx.options;
    if (!view) {
      throw new LrtError(
        'E_USAGE',
        '--view is required: which tokens to reset, e.g. --view error, or --view locked (the tokens of ' +
          "pilots that died; --force takes live ones too). Run 'lrt tokens reset --help'.",
      );
    }
    const { picas, type } = open(ctx);
    const dropAttachments = ctx.options['drop-attachments'] ? ('logs' as const) : ('none' as const);
    // A 409 re-decides a token: keep one entry per id.
    const held = new Map<string, string>();
    const result = await withBulk(ctx, 'reset', (options) =>
      resetView(picas, type, view, {
        ...options,
        dropAttachments,
        now: () => Math.floor(picas.clock.now() / 1000),
        ...(ctx.options.force ? {} : { spareHeld: (doc, why) => held.set(doc._id, why) }),
      }),
    );
    const heldList = [...held].map(([id, why]) => ({ id, why }));
    const code = report(ctx, 'reset', `of type ${type} in view ${view}`, result, {
      type,
      view,
      held: heldList,
    });
    if (heldList.length > 0) {
      for (const { id, why } of heldList.slice(0, MAX_FAILURES_SHOWN)) ctx.out.note(`kept: ${id}: ${why}`);
      if (heldList.length > MAX_FAILURES_SHOWN)
        ctx.out.note(`... and ${heldList.length - MAX_FAILURES_SHOWN} more`);
      ctx.out.note(
        `${tokens(heldList.length)} kept: pilots may still be running them (their leases have not expired); --force resets them anyway`,
      );
    }
    return code;
  },
});

/** Deleting is destructive: without --yes (and without --dry-run) say what would go and refuse. */
function refuseWithoutYes(
  ctx: ContextWith<{ yes: boolean; 'dry-run': boolean }>,
  what: string,
  count: number,
): void {
  if (ctx.options.yes || ctx.options['dry-run']) return;
  throw new LrtError(
    'E_USAGE',
    `refusing to delete ${what} without --yes (deleting cannot be undone; --dry-run lists them)`,
    { details: { wouldDelete: count } },
  );
}

const DELETE_OPTIONS = defineOptions({
  yes: { type: 'boolean', short: 'y', description: 'really delete (required unless --dry-run)' },
  ...BULK,
});

export const tokensDelete = defineCommand({
  path: ['tokens', 'delete'],
  summary: 'delete the tokens of a view (asks for --yes)',
  json: '{type, view, changed, skipped, conflictsRetried, failed: [{id, error}], ids: [ID], dryRun, preview?}',
  options: {
    ...TYPE,
    view: { type: 'string', value: 'V', description: 'the tokens to delete: a view of _design/T' },
    ...DELETE_OPTIONS,
    ...PICAS_OPTIONS,
  },
  examples: [
    'lrt tokens delete --type sksp_dev --view error --dry-run',
    'lrt tokens delete --type sksp_dev --view error --yes',
  ],
  async run(ctx) {
    const view = requiredOption(ctx, 'view');
    const { picas, type } = open(ctx);
    const where = `of type ${type} in view ${view} of database ${picas.name}`;
    if (!ctx.options.yes && !ctx.options['dry-run']) {
      const preview = await deleteView(picas, type, view, {
        dryRun: true,
        pageSize: ctx.options['batch-size'] ?? 500,
      });
      if (preview.changed > 0) refuseWithoutYes(ctx, `${tokens(preview.changed)} ${where}`, preview.changed);
    }
    const result = await withBulk(ctx, 'delete', (options) => deleteView(picas, type, view, options));
    return report(ctx, 'delete', `of type ${type} in view ${view}`, result, { type, view });
  },
});

export const tokensPurge = defineCommand({
  path: ['tokens', 'purge'],
  summary: 'delete every token of a type and its design documents (asks for --yes)',
  json:
    '{type, changed, skipped, conflictsRetried, failed: [{id, error}], ids: [ID], dryRun, designDoc,\n' +
    ' claimDesignDoc}',
  description:
    "As GRID_LRT's purge_tokens. Tokens are found through _all_docs, not through views, so this\n" +
    "also works after the views were cleared. The design documents (_design/T and the claim's\n" +
    '_design/claim:T) stay when some tokens could not be deleted.',
  options: { ...TYPE, ...DELETE_OPTIONS, ...PICAS_OPTIONS },
  examples: ['lrt tokens purge --type sksp_dev --dry-run', 'lrt tokens purge --type sksp_dev --yes'],
  async run(ctx) {
    const { picas, type } = open(ctx);
    if (!ctx.options.yes && !ctx.options['dry-run']) {
      const preview = await purgeType(picas, type, {
        dryRun: true,
        pageSize: ctx.options['batch-size'] ?? 500,
      });
      const ddocs = [
        ...(preview.designDoc === 'would-delete' ? [`_design/${type}`] : []),
        ...(preview.claimDesignDoc === 'would-delete' ? [`_design/claim:${type}`] : []),
      ];
      const ddoc = ddocs.map((id) => ` and ${id}`).join('');
      const what = `${tokens(preview.changed)} of type ${type}${ddoc} from database ${picas.name}`;
      if (preview.changed > 0 || ddoc) refuseWithoutYes(ctx, what, preview.changed);
    }
    const result = await withBulk(ctx, 'purge', (options) => purgeType(picas, type, options));
    const code = report(ctx, 'purge', `of type ${type}`, result, { type });
    if (!ctx.out.json) {
      ctx.out.line(`design document _design/${type}: ${result.designDoc}`);
      ctx.out.line(`design document _design/claim:${type}: ${result.claimDesignDoc}`);
    }
    return code;
  },
});

export const tokensManageCommands = [
  tokensList,
  tokensOverview,
  tokensSetStatus,
  tokensReset,
  tokensDelete,
  tokensPurge,
];
