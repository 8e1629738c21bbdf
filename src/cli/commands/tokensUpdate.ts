import { countOf, LrtError } from '../../core';
import { applyFieldOverrides } from '../../picas/tokenConfig';
import { type TokenSelection, updateTokens } from '../../picas/updateTokens';
import { assertTokenType } from '../../picas/viewDefinitions';
import { defineCommand } from '../command';
import { PICAS_OPTIONS, picasFromContext } from '../picasOptions';
import { readAttachFlag } from './tokensCreate';
import { bulkOptions, report } from './tokensManage';

function selectionOf(
  type: string,
  view: string | undefined,
  idLists: string[],
): { selection: TokenSelection; where: string } {
  const ids = idLists.flatMap((list) => list.split(','));
  if (view !== undefined && ids.length > 0) throw new LrtError('E_USAGE', 'give --view or --ids, not both');
  if (view !== undefined) return { selection: { view }, where: `of type ${type} in view ${view}` };
  if (ids.length > 0) {
    const empty = ids.find((id) => id.trim() === '');
    if (empty !== undefined) throw new LrtError('E_USAGE', '--ids holds an empty id');
    return {
      selection: { ids: ids.map((id) => id.trim()) },
      where: `of the ${countOf(ids.length, 'id')} given`,
    };
  }
  return { selection: { all: true }, where: `of type ${type}` };
}

export const tokensUpdate = defineCommand({
  path: ['tokens', 'update'],
  summary: 'change fields and attachments of existing tokens, in bulk and conflict-aware',
  json:
    '{type, changed, skipped, conflictsRetried, failed: [{id, error, notFound?}], ids: [ID],\n' +
    ' dryRun, preview?: [{id, fields: {FIELD: {before, after}}}]}',
  description:
    'Selects the tokens of --type: all of them, those of --view V, or those of --ids. Each token\n' +
    'is written with the revision read; a token changed meanwhile by a pilot or another command\n' +
    'is read again and the change applied to what it holds now (never overwritten). A token a\n' +
    'pilot is running is skipped (--include-running changes it: the running payload keeps the\n' +
    'values it started with). Protocol fields (status, lock, done, lease ...) have their own\n' +
    'commands: set-status, reset. Running it again changes nothing more.',
  options: {
    type: { type: 'string', value: 'T', description: 'token type (design document _design/T)' },
    view: {
      type: 'string',
      value: 'V',
      description: 'only the tokens of view V (todo, error, a custom one)',
    },
    ids: { type: 'string', value: 'ID,...', multiple: true, description: 'only these tokens' },
    set: {
      type: 'string',
      value: 'KEY=VALUE',
      multiple: true,
      description: 'set a field (VALUE read as JSON)',
    },
    unset: { type: 'string', value: 'KEY', multiple: true, description: 'remove a field' },
    attach: {
      type: 'string',
      value: 'FILE[:NAME]',
      multiple: true,
      description: 'add or replace an attachment on every token',
    },
    'include-running': { type: 'boolean', description: 'also change tokens a pilot is running now' },
    'dry-run': { type: 'boolean', description: 'show what would change (before -> after), write nothing' },
    'batch-size': {
      type: 'integer',
      default: 500,
      value: 'N',
      description: 'tokens per read and per _bulk_docs request (default 500)',
    },
    ...PICAS_OPTIONS,
  },
  examples: [
    'lrt tokens update --type pref_cal --view todo --set SBXloc=gsiftp://host/sandbox_v2.tar',
    'lrt tokens update --type pref_cal --ids t_pref_cal_L229507_SB100 --unset stage_out --attach my.parset',
  ],
  async run(ctx) {
    const { type, set, unset, attach } = ctx.options;
    if (!type) throw new LrtError('E_USAGE', "--type is required. Run 'lrt tokens update --help'.");
    assertTokenType(type);
    const { selection, where } = selectionOf(type, ctx.options.view, ctx.options.ids);
    const changes = {
      set: applyFieldOverrides({}, set),
      unset,
      attachments: await Promise.all(attach.map((spec) => readAttachFlag(ctx, spec))),
    };
    const bulk = bulkOptions(ctx, 'updating tokens');
    const result = await updateTokens(picasFromContext(ctx), type, selection, changes, {
      ...bulk.options,
      includeRunning: ctx.options['include-running'],
    });
    bulk.finish();
    return report(ctx, 'update', where, result, { type });
  },
});

export const tokensUpdateCommands = [tokensUpdate];
