import { countOf, LrtError } from '../../core';
import type { PicasDb } from '../../picas/client';
import {
  addView,
  assertDatabaseExists,
  clearViews,
  ensureFinishedViews,
  listViews,
  migrateCustomViews,
  removeView,
  type ViewChangeOptions,
  type ViewsUpdate,
} from '../../picas/designDocStore';
import { finishedDesignDocId } from '../../picas/finishedViews';
import type { BuiltIndex } from '../../picas/indexBuild';
import { assertTokenType } from '../../picas/viewDefinitions';
import { type CommandContext, type ContextWith, defineCommand, requiredOption } from '../command';
import { EXIT } from '../exitCodes';
import type { Progress } from '../output';
import { PICAS_OPTIONS, type PicasValues, picasFromContext } from '../picasOptions';

const TYPE_OPTION = {
  type: { type: 'string' as const, value: 'T', description: 'token type (design document _design/T)' },
};

async function openFor(
  ctx: ContextWith<{ type?: string } & PicasValues>,
): Promise<{ picas: PicasDb; type: string }> {
  const type = requiredOption(ctx, 'type');
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

/** Progress of index builds on stderr: a bar from `/_active_tasks`, else the time spent. */
function buildProgress(ctx: CommandContext): {
  onProgress: NonNullable<ViewChangeOptions['onProgress']>;
  done(): void;
} {
  let bar: Progress | undefined;
  let barFor = '';
  let barAt = 0;
  let barTotal = 0;
  let lastNote = 0;
  let noted = '';
  return {
    onProgress(p) {
      if (p.source === 'active_tasks' && p.totalChanges) {
        if (barFor !== p.designDoc) {
          bar?.tick(Math.max(0, barTotal - barAt));
          bar?.done();
          bar = ctx.out.progress(`building the index of ${p.designDoc}`, p.totalChanges);
          barFor = p.designDoc;
          barAt = 0;
          barTotal = p.totalChanges;
        }
        bar!.tick(Math.max(0, (p.changesDone ?? 0) - barAt));
        barAt = Math.max(barAt, p.changesDone ?? 0);
        return;
      }
      // No figures to draw: say what is going on, every 10 s, and why there is no bar.
      if (p.elapsedMs - lastNote < 10_000 && noted === p.designDoc) return;
      lastNote = p.elapsedMs;
      noted = p.designDoc;
      const why =
        p.source === 'refused'
          ? 'the server shows index progress (/_active_tasks) to its admins only'
          : 'the server reports no progress for it (the embedded server never does)';
      ctx.out.note(
        `building the index of ${p.designDoc}: ${Math.round(p.elapsedMs / 1000)} s so far (${why})`,
      );
    },
    done() {
      // The build answered: the index is complete, whatever the last look at the tasks showed.
      bar?.tick(Math.max(0, barTotal - barAt));
      bar?.done();
    },
  };
}

/** Runs a change of views with its index builds drawn on stderr (buildProgress). */
async function withBuildProgress<T>(
  ctx: CommandContext,
  work: (options: ViewChangeOptions) => Promise<T>,
): Promise<T> {
  const progress = buildProgress(ctx);
  const result = await work({ onProgress: progress.onProgress });
  progress.done();
  return result;
}

function buildsJson(builds: BuiltIndex[]) {
  return builds.map(({ designDoc, view, elapsedMs, rows, progressReported }) => ({
    designDoc: `_design/${designDoc}`,
    view,
    seconds: Math.round(elapsedMs / 100) / 10,
    rows,
    progressReported,
  }));
}

export const viewsAdd = defineCommand({
  path: ['views', 'add'],
  summary: 'add a custom view (in _design/views:<type>) and build its index',
  json: '{type, id, changed, rev, view, replaced, legacy: [NAME], builds: [{designDoc, view, seconds, rows, progressReported}]}',
  description:
    "The condition is a JavaScript expression on the token `doc`, e.g. 'doc.manual_int == 0'. It is\n" +
    'parsed before it is stored. Standard view names (todo, locked, done, error, overview_total,\n' +
    'overview_view, expired) are refused.\n' +
    'Custom views live in _design/views:<type>, apart from _design/<type> (todo) and\n' +
    '_design/claim:<type>: on CouchDB a changed design document has every view in it rebuilt, so\n' +
    'adding one never takes todo away from the pilots. The other custom views keep answering while\n' +
    'the new index is built (in a staged copy first), and the command returns once it is built, with\n' +
    "a progress bar from the server's /_active_tasks (CouchDB shows it to server admins only; without\n" +
    'it, and on the embedded server, the time spent is shown instead).',
  options: {
    ...TYPE_OPTION,
    name: { type: 'string', value: 'NAME', description: 'view name: letters, digits, _' },
    condition: { type: 'string', value: 'EXPR', description: 'JavaScript condition on doc' },
    ...PICAS_OPTIONS,
  },
  examples: ["lrt views add --type demo --name demo_view --condition 'doc.manual_int == 0'"],
  async run(ctx) {
    const name = requiredOption(ctx, 'name');
    const condition = requiredOption(ctx, 'condition');
    const { picas, type } = await openFor(ctx);
    const res = await withBuildProgress(ctx, (o) => addView(picas, type, name, condition, o));
    ctx.out.result({ type, ...res, builds: buildsJson(res.builds) });
    const what = !res.changed ? 'already defined as given' : res.replaced ? 'replaced' : 'added';
    const built = res.builds.at(-1);
    ctx.out.line(
      `view ${name} of ${res.id}: ${what}${built ? `, index built in ${(built.elapsedMs / 1000).toFixed(1)} s (${countOf(built.rows, 'row')})` : ''}`,
    );
    if (res.legacy.length > 0) {
      ctx.out.note(
        `_design/${type} still holds custom views of an older version (${res.legacy.join(', ')}): ` +
          `'lrt views migrate --type ${type}' moves them without stopping the pilots`,
      );
    }
    return EXIT.ok;
  },
});

export const viewsRemove = defineCommand({
  path: ['views', 'remove'],
  summary: 'remove one custom view',
  json: '{type, id, changed, rev, view, from, builds: [...]}',
  description:
    'From _design/views:<type>; a custom view an older version put in _design/<type> is removed\n' +
    "from there through a staged copy whose index is built first, so the pilots' todo keeps\n" +
    'answering (on a large database that copy takes as long to build as the first index did).',
  options: {
    ...TYPE_OPTION,
    name: { type: 'string', value: 'NAME', description: 'the custom view to remove' },
    ...PICAS_OPTIONS,
  },
  examples: ['lrt views remove --type demo --name demo_view'],
  async run(ctx) {
    const name = requiredOption(ctx, 'name');
    const { picas, type } = await openFor(ctx);
    const res = await withBuildProgress(ctx, (o) => removeView(picas, type, name, o));
    ctx.out.result({ type, ...res, builds: buildsJson(res.builds) });
    ctx.out.line(`view ${name} removed from ${res.from}`);
    return EXIT.ok;
  },
});

export const viewsMigrate = defineCommand({
  path: ['views', 'migrate'],
  summary: 'move custom views from _design/<type> to _design/views:<type>, without a stall',
  json: '{type, moved: [NAME], shadowed: [NAME], custom: {id, changed, rev}, typeDoc: {id, changed, rev}, builds: [...]}',
  description:
    'Older versions kept custom views in _design/<type>, next to todo, where adding or removing one\n' +
    "rebuilt the pilots' index. This writes them to _design/views:<type> and builds its index first\n" +
    '(readers use them from there at once), then removes them from _design/<type> through a staged\n' +
    'copy (_design/next:<type>) whose index is built while todo keeps answering from the old one;\n' +
    'CouchDB names an index by its views, so _design/<type> then takes the built one. The copy is a\n' +
    'second build of the standard views: plan for as long as the first one took. Until migrated,\n' +
    'readers find the old custom views where they are. A second run does nothing.',
  options: { ...TYPE_OPTION, ...PICAS_OPTIONS },
  examples: ['lrt views migrate --type pref_cal1'],
  async run(ctx) {
    const { picas, type } = await openFor(ctx);
    const res = await withBuildProgress(ctx, (o) => migrateCustomViews(picas, type, o));
    const strip = ({ builds: _b, ...rest }: ViewsUpdate) => rest;
    ctx.out.result({
      type,
      moved: res.moved,
      shadowed: res.shadowed,
      custom: strip(res.custom),
      typeDoc: strip(res.typeDoc),
      builds: buildsJson([...res.custom.builds, ...res.typeDoc.builds]),
    });
    ctx.out.line(
      res.moved.length === 0
        ? `_design/${type} holds no custom views: nothing to move`
        : `moved ${res.moved.length} custom views to ${res.custom.id}: ${res.moved.join(', ')}`,
    );
    if (res.shadowed.length > 0) {
      ctx.out.note(
        `kept the newer definition in ${res.custom.id} of: ${res.shadowed.join(', ')} (the old one was dropped)`,
      );
    }
    return EXIT.ok;
  },
});

export const viewsClear = defineCommand({
  path: ['views', 'clear'],
  summary: 'remove the custom views of a type (--all: every view, and pilots stop claiming)',
  json: '{type, id, changed, rev, removed: [NAME], legacyRemoved: [NAME], claimRemoved: [NAME]}',
  description:
    'Empties _design/views:<type>, and removes custom views an older version left in _design/<type>\n' +
    "through a staged copy, so todo keeps answering. With --all, GRID_LRT's clear_all_views: every\n" +
    "view of _design/<type>, standard ones too, and the claim's todo_spread; tokens stay, and pilots\n" +
    "find no todo view until the standard views are back ('lrt tokens create --type T' restores them),\n" +
    'so --all asks for --yes.',
  options: {
    ...TYPE_OPTION,
    all: { type: 'boolean', description: 'every view, standard and custom: the pilots stop claiming' },
    yes: { type: 'boolean', short: 'y', description: 'really remove every view (required with --all)' },
    ...PICAS_OPTIONS,
  },
  examples: ['lrt views clear --type sksp_dev', 'lrt views clear --type sksp_dev --all --yes'],
  async run(ctx) {
    if (ctx.options.all && !ctx.options.yes) {
      throw new LrtError(
        'E_USAGE',
        'refusing to remove every view without --yes: with --all the pilots of the type stop claiming ' +
          "until 'lrt tokens create --type T' puts the standard views back",
      );
    }
    const { picas, type } = await openFor(ctx);
    const progress = buildProgress(ctx);
    const res = await clearViews(picas, type, {
      all: ctx.options.all,
      onProgress: progress.onProgress,
    });
    progress.done();
    ctx.out.result({ type, ...res });
    const where = ctx.options.all ? `_design/${type} and _design/views:${type}` : `_design/views:${type}`;
    ctx.out.line(
      res.removed.length
        ? `removed ${countOf(res.removed.length, 'view')} from ${where}: ${res.removed.join(', ')}`
        : `${where}: no views to remove`,
    );
    if (res.legacyRemoved.length > 0) {
      ctx.out.line(`removed the custom views ${res.legacyRemoved.join(', ')} from _design/${type}`);
    }
    if (res.claimRemoved.length > 0) {
      ctx.out.line(`removed the claim's ${res.claimRemoved.join(', ')} from _design/claim:${type}`);
    }
    return EXIT.ok;
  },
});

export const viewsList = defineCommand({
  path: ['views', 'list'],
  summary: 'list the views of a type: _design/<type> and the custom ones of _design/views:<type>',
  json: '{type, views: [{name, standard, reduce, map, designDoc, condition}]}',
  options: { ...TYPE_OPTION, ...PICAS_OPTIONS },
  async run(ctx) {
    const { picas, type } = await openFor(ctx);
    const views = await listViews(picas, type);
    ctx.out.result({
      type,
      views: views.map((v) => ({ ...v, condition: conditionOf(v.map) ?? null })),
    });
    if (views.length === 0) ctx.out.line(`_design/${type} and _design/views:${type} have no views`);
    const width = Math.max(0, ...views.map((v) => v.name.length)) + 2;
    for (const v of views) {
      const kind = v.standard ? 'standard' : 'custom  ';
      const where =
        v.standard || v.designDoc !== `_design/${type}` ? '' : ` (in _design/${type}: lrt views migrate)`;
      const detail = v.standard ? '' : `${conditionOf(v.map) ?? '(own map function)'}${where}`;
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
  json: '{type, id, changed, rev, builds: [...]}',
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

export const viewsCommands = [viewsAdd, viewsRemove, viewsMigrate, viewsClear, viewsList, viewsFinished];
