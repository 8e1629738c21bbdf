import { LrtError } from '../../core';
import type { PicasDb } from '../../picas/client';
import {
  addView,
  assertDatabaseExists,
  clearViews,
  ensureFinishedViews,
  listViews,
} from '../../picas/designDocStore';
import { finishedDesignDocId } from '../../picas/finishedViews';
import { assertTokenType } from '../../picas/viewDefinitions';
import { type ContextWith, defineCommand } from '../command';
import { EXIT } from '../exitCodes';
import { PICAS_OPTIONS, type PicasValues, picasFromContext } from '../picasOptions';

const TYPE_OPTION = {
  type: { type: 'string' as const, value: 'T', description: 'token type (design document _design/T)' },
};

function required<K extends string>(ctx: ContextWith<{ [name in K]?: string }>, name: K): string {
  const value = ctx.options[name];
  if (value === undefined || value === '') {
    throw new LrtError('E_USAGE', `--${name} is required. Run 'lrt views --help'.`);
  }
  return value;
}

async function openFor(
  ctx: ContextWith<{ type?: string } & PicasValues>,
): Promise<{ picas: PicasDb; type: string }> {
  const type = required(ctx, 'type');
  assertTokenType(type);
  const picas = picasFromContext(ctx);
  await assertDatabaseExists(picas);
  return { picas, type };
}

/** The condition inside a view made by conditionView, for display; undefined for other sources. */
export function conditionOf(map: string): string | undefined {
  return /^function \(doc\) \{\n {2}if \(doc\.type == "[^"]*" && \(([\s\S]*)\)\) \{\n {4}emit\(doc\._id, doc\._id\);/.exec(
    map,
  )?.[1];
}

export const viewsAdd = defineCommand({
  path: ['views', 'add'],
  summary: 'add a custom view: the tokens of a type for which a condition on doc holds',
  json: '{type, id, changed, rev, replaced}',
  description:
    "The condition is a JavaScript expression on the token `doc`, e.g. 'doc.manual_int == 0'. It is\n" +
    'parsed before it is stored (a broken view would break every view of the type on CouchDB).\n' +
    'Standard view names (todo, locked, done, error, overview_total, overview_view, expired) are refused.',
  options: {
    ...TYPE_OPTION,
    name: { type: 'string', value: 'NAME', description: 'view name: letters, digits, _' },
    condition: { type: 'string', value: 'EXPR', description: 'JavaScript condition on doc' },
    ...PICAS_OPTIONS,
  },
  examples: ["lrt views add --type demo --name demo_view --condition 'doc.manual_int == 0'"],
  async run(ctx) {
    const name = required(ctx, 'name');
    const condition = required(ctx, 'condition');
    const { picas, type } = await openFor(ctx);
    const res = await addView(picas, type, name, condition);
    ctx.out.result({ type, ...res });
    const what = !res.changed ? 'already defined as given' : res.replaced ? 'replaced' : 'added';
    ctx.out.line(`view ${name} of _design/${type}: ${what}`);
    return EXIT.ok;
  },
});

export const viewsClear = defineCommand({
  path: ['views', 'clear'],
  summary: 'remove every view, standard and custom, from _design/<type>',
  json: '{type, id, changed, rev, removed: [NAME]}',
  description:
    "Also the claim's todo_spread from _design/claim:<type>. Tokens stay. Pilots find no todo\n" +
    'view until the standard views are back: the next\n' +
    "'lrt tokens create --type T' restores them.",
  options: { ...TYPE_OPTION, ...PICAS_OPTIONS },
  async run(ctx) {
    const { picas, type } = await openFor(ctx);
    const res = await clearViews(picas, type);
    ctx.out.result({ type, ...res });
    ctx.out.line(
      res.removed.length
        ? `removed ${res.removed.length} views from _design/${type}: ${res.removed.join(', ')}`
        : `_design/${type} has no views`,
    );
    if (res.claimRemoved.length > 0) {
      ctx.out.line(`removed the claim's ${res.claimRemoved.join(', ')} from _design/claim:${type}`);
    }
    return EXIT.ok;
  },
});

export const viewsList = defineCommand({
  path: ['views', 'list'],
  summary: 'list the views of _design/<type>',
  json: '{type, views: [{name, standard, reduce, map, condition}]}',
  options: { ...TYPE_OPTION, ...PICAS_OPTIONS },
  async run(ctx) {
    const { picas, type } = await openFor(ctx);
    const views = await listViews(picas, type);
    ctx.out.result({
      type,
      views: views.map((v) => ({ ...v, condition: conditionOf(v.map) ?? null })),
    });
    if (views.length === 0) ctx.out.line(`_design/${type} has no views`);
    const width = Math.max(0, ...views.map((v) => v.name.length)) + 2;
    for (const v of views) {
      const kind = v.standard ? 'standard' : 'custom  ';
      const detail = v.standard ? '' : (conditionOf(v.map) ?? '(own map function)');
      ctx.out.line(
        `${v.name.padEnd(width)}${kind}${v.reduce ? ' reduce' : ''}${detail ? `  ${detail}` : ''}`.trimEnd(),
      );
    }
    return EXIT.ok;
  },
});

export const viewsFinished = defineCommand({
  path: ['views', 'finished'],
  summary: 'write _design/finished:<type>: done, error and overview as every tool writes them',
  json: '{type, id, changed, rev}',
  description:
    'The views of done and error tokens as GRID_LRT (status), picasclient (a done epoch and\n' +
    'exit_code) and grid-lrt write them, the overview built on them, and tokens another tool took\n' +
    "over from our pilots (docs/token-format.md). 'lrt tokens create' writes them too; this writes\n" +
    'only them, for a database set up by an older version or by GRID_LRT: _design/<type> is left\n' +
    "as it is, so CouchDB does not rebuild the pilots' todo index. A second run writes nothing.",
  options: { ...TYPE_OPTION, ...PICAS_OPTIONS },
  examples: ['lrt views finished --type pref_cal1'],
  async run(ctx) {
    const { picas, type } = await openFor(ctx);
    const res = await ensureFinishedViews(picas, type);
    ctx.out.result({ type, ...res });
    ctx.out.line(`${finishedDesignDocId(type)}: ${res.changed ? 'written' : 'already up to date'}`);
    return EXIT.ok;
  },
});

export const viewsCommands = [viewsAdd, viewsClear, viewsList, viewsFinished];
