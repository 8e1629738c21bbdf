import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { countOf, fileProblem, fileReadError, LrtError } from '../../core';
import { addAttachment, attachmentNameFor, contentTypeFor, readAttachment } from '../../picas/attachments';
import { bulkCreateTokens, DEFAULT_BATCH_SIZE } from '../../picas/bulkCreate';
import type { PicasDb } from '../../picas/client';
import { sliceToken } from '../../picas/create';
import {
  DataMovementTally,
  describeDataMovement,
  type PayloadMoves,
  withDataMovement,
} from '../../picas/dataMovement';
import { ensureDatabase, ensureDesignDoc } from '../../picas/designDocStore';
import { overlapsWithExisting } from '../../picas/overlap';
import { applyFieldOverrides, loadTokenConfigFile, missingTokenKeyFields } from '../../picas/tokenConfig';
import { tokenToDoc } from '../../picas/tokenDoc';
import {
  type AttachmentInput,
  buildTokenDoc,
  getToken,
  manualTokenId,
  type NewToken,
  sliceTokenId,
} from '../../picas/tokens';
import { assertTokenType } from '../../picas/viewDefinitions';
import { type SurlListSlices, sliceSurlListFile, subbandOf } from '../../srm';
import { submitAndMarkStaging } from '../../staging';
import { type CommandContext, type ContextWith, defineCommand } from '../command';
import { EXIT } from '../exitCodes';
import type { OptionValues } from '../options';
import { PICAS_OPTIONS, picasFromContext } from '../picasOptions';
import { stopOnSignal } from '../stopSignal';
import { givenSubbandPattern, PATTERN_OPTIONS } from './srm';
import { STAGER_OPTIONS, stagerFromContext } from './stage';

export async function readAttachFlag(ctx: CommandContext, spec: string): Promise<AttachmentInput> {
  // FILE[:NAME]: the last ':' splits only when what follows is a bare name (paths may hold ':').
  const colon = spec.lastIndexOf(':');
  const named = colon > 0 && !spec.slice(colon + 1).includes('/') && colon < spec.length - 1;
  const file = named ? spec.slice(0, colon) : spec;
  const name = named ? spec.slice(colon + 1) : attachmentNameFor(file);
  try {
    return { name, contentType: contentTypeFor(name), data: await readFile(resolve(ctx.cwd, file)) };
  } catch (err) {
    throw fileReadError(`--attach ${spec}: cannot read ${file}`, err);
  }
}

interface Template {
  fields: Record<string, unknown>;
  /** Attachments the config says every token carries. */
  attachments: string[];
  type?: string;
}

/** Fields from --config (GRID_LRT json or yaml) then --set; config warnings go to stderr. */
async function readTemplate(
  ctx: ContextWith<{ config?: string; lenient: boolean; set: string[] }>,
): Promise<Template> {
  const file = ctx.options.config;
  const strict = !ctx.options.lenient;
  const config = file ? await loadTokenConfigFile(resolve(ctx.cwd, file), { strict }) : undefined;
  for (const warning of config?.warnings ?? []) ctx.out.note(`warning: ${warning}`);
  return {
    fields: applyFieldOverrides(config?.fields ?? {}, ctx.options.set),
    attachments: (config?.attachments ?? []).map((a) => a.name),
    ...(config?.type ? { type: config.type } : {}),
  };
}

type MovesValues = {
  'payload-moves-data': boolean;
  'payload-moves-inputs': boolean;
  'payload-moves-results': boolean;
};

function payloadMoves(ctx: ContextWith<MovesValues>): PayloadMoves {
  const all = ctx.options['payload-moves-data'];
  return {
    inputs: all || ctx.options['payload-moves-inputs'],
    results: all || ctx.options['payload-moves-results'],
  };
}

/** The tokens to create: one named token, or a stream of one token per chunk of a SURL list. */
interface Planned {
  /** How many tokens. */
  count: number;
  /** The first token (a chunk's token without its SURLs): checked before anything is written. */
  first: NewToken;
  tokens(): AsyncGenerator<NewToken>;
  /** With --srm: the plan of the list, for the overlap check. */
  list?: { slices: SurlListSlices; type: string; prefix: string };
}

type PlanValues = MovesValues &
  OptionValues<typeof PATTERN_OPTIONS> & {
    srm?: string;
    attach: string[];
    'id-suffix'?: string;
    'per-token'?: number;
    'key-name'?: string;
  };

async function plannedTokens(
  ctx: ContextWith<PlanValues>,
  type: string,
  templateFields: Record<string, unknown>,
): Promise<Planned> {
  const srmGiven = ctx.options.srm !== undefined;
  const fields = withDataMovement(templateFields, { surlList: srmGiven }, payloadMoves(ctx));
  const attachments = await Promise.all(ctx.options.attach.map((spec) => readAttachFlag(ctx, spec)));
  const { srm, 'id-suffix': suffix } = ctx.options;
  if (srm && suffix !== undefined) {
    throw new LrtError(
      'E_USAGE',
      '--id-suffix names a single token; with --srm the ids come from the subbands',
    );
  }
  if (!srm) {
    if (suffix === undefined) {
      throw new LrtError(
        'E_USAGE',
        'give --srm FILE (one token per chunk) or --id-suffix S (one token t_<type>_S)',
      );
    }
    const token: NewToken = { id: manualTokenId(type, suffix), fields, attachments };
    return {
      count: 1,
      first: token,
      async *tokens() {
        yield token;
      },
    };
  }
  // The list streams: it is checked and planned holding numbers only, then read again chunk by chunk.
  const slices = await sliceSurlListFile(resolve(ctx.cwd, srm), srm, {
    perToken: ctx.options['per-token'] ?? 10,
    pattern: givenSubbandPattern(ctx),
  });
  const sliceOptions = {
    obsid: slices.obsid,
    keyName: ctx.options['key-name'] ?? 'STARTSB',
    fields,
    attachments,
  };
  return {
    count: slices.chunkCount,
    first: sliceToken(type, slices.firstKey, [], sliceOptions),
    async *tokens() {
      for await (const chunk of slices.chunks()) yield sliceToken(type, chunk.key, chunk.surls, sliceOptions);
    },
    list: { slices, type, prefix: sliceTokenId(type, slices.obsid, '').replace(/SB$/, '') },
  };
}

/** Refuses slices that share subbands with existing tokens of the type (E_EXISTS naming them). */
async function refuseOverlaps(picas: PicasDb, list: NonNullable<Planned['list']>) {
  const { slices, type, prefix } = list;
  const { overlaps, count } = await overlapsWithExisting(
    picas,
    prefix,
    'srm.txt',
    (line) => subbandOf(line.split(/\s+/)[0] ?? '', slices.pattern),
    (subband) => {
      const chunk = slices.chunkOf(subband);
      return chunk && { id: sliceTokenId(type, slices.obsid, chunk.key), subbands: chunk.subbands };
    },
  );
  if (count === 0) return;
  const shown = overlaps
    .slice(0, 10)
    .map((o) => `${o.id} would share subbands ${o.subbands.join(',')} with existing ${o.existing}`);
  const more = count > shown.length ? `; and ${count - shown.length} more` : '';
  throw new LrtError(
    'E_EXISTS',
    `tokens of type ${type} already cover these subbands (another --per-token?): ${shown.join('; ')}${more}. ` +
      "Nothing was created. Delete the old tokens ('lrt tokens delete'), or pass --force to create them anyway.",
    { details: { overlaps: overlaps.slice(0, 100), count } },
  );
}

/** What the config promises the pilot but the tokens would lack: worth a warning, not an error. */
function warnIncomplete(ctx: CommandContext, template: Template, first: NewToken): void {
  const carried = new Set((first.attachments ?? []).map((a) => a.name));
  for (const name of template.attachments) {
    if (carried.has(name)) continue;
    // A file of that name here attaches as it is; elsewhere FILE:NAME keeps the name the config wants.
    const flagToAdd = existsSync(resolve(ctx.cwd, name))
      ? `--attach ${name}`
      : `--attach PATH/TO/FILE:${name}`;
    ctx.out.note(
      `warning: the config names attachment "${name}" but no --attach provides it; add ${flagToAdd}`,
    );
  }
  for (const { variable, field } of missingTokenKeyFields(first.fields ?? {})) {
    ctx.out.note(
      `warning: the config exports $${variable} from field ${field}, which the tokens lack (--set ${field}=...)`,
    );
  }
}

/** Stopped by Ctrl-C between batches: what was written, and that the same command resumes. */
function reportInterrupted(
  ctx: CommandContext,
  r: { type: string; database: string; total: number; report: Awaited<ReturnType<typeof bulkCreateTokens>> },
): number {
  const { created, existing, failed } = r.report.counts;
  const left = r.total - created - existing - failed;
  ctx.out.result({ database: r.database, type: r.type, ...r.report, notSent: left });
  ctx.out.line(
    `interrupted: ${created} created, ${existing} already existed, ${failed} failed; ` +
      `${left} of ${r.total} not sent (type ${r.type}, database ${r.database})`,
  );
  ctx.out.note(
    'only whole batches were written; run the same command again to create the rest (tokens that exist are skipped)',
  );
  return EXIT.interrupted;
}

export const tokensCreate = defineCommand({
  path: ['tokens', 'create'],
  summary: 'create tokens: one per chunk of a SURL list (with its srm.txt), or one named token',
  json:
    '{database, url, type, created: [ID], existing: [ID], failed: [{id, error}], counts: {created,\n' +
    ' existing, failed}, dataMovement} (+ interrupted, notSent after Ctrl-C);\n' +
    'with --dry-run: {dryRun: true, type, tokens: [{id, fields, attachments: [{name, contentType,\n' +
    ' length}]}], dataMovement}. dataMovement is what the pilots move for the tokens created:\n' +
    ' {stageIn?: {tokens, files, from, schemes}, stageOut?: {tokens, to}, notes: [TEXT]}',
  description:
    'Ids are deterministic (t_<type>_<OBSID>_SB<nnn>, or t_<type>_<suffix>), so running the same\n' +
    'command again creates only what is missing and reports the rest as existing; an existing\n' +
    'token is never overwritten (lrt tokens update changes tokens). Slices that share subbands with\n' +
    'existing tokens of the type (the same list cut with another --per-token) are refused, naming\n' +
    'them (--force creates them anyway). Creates the database, the design document _design/<type>\n' +
    "with the standard views, the claim's _design/claim:<type> and _design/finished:<type> when they\n" +
    'are missing or out of date (a design document that is current is never rewritten). Fields come\n' +
    'from --config (its Token and\n' +
    'Job.variables sections), then --set; STARTSB and OBSID are set per token from the list.\n' +
    'Data movement (README, "Data movement"): tokens cut from a SURL list get stage_in: true (the\n' +
    'pilot downloads their srm.txt into Input/ with globus-url-copy), and a config with an upload\n' +
    'section gives stage_out: true (the pilot uploads Output/ by its rules). The command prints\n' +
    'what the pilot will move. A payload that moves its own data: --payload-moves-data.\n' +
    'Large lists stream: the SURL list is checked whole first (nothing is written when a line is\n' +
    'bad), then read again and written a batch at a time, so memory stays flat up to a million\n' +
    'tokens; without --json the ids are not kept (only counts and failures). --stage and --dry-run\n' +
    '--json hold the tokens (one staging request takes every SURL).',
  options: {
    type: {
      type: 'string',
      value: 'T',
      description: 'token type (design document _design/T); default: the type in --config',
    },
    srm: { type: 'string', value: 'FILE', description: 'SURL list: one token per chunk of subbands' },
    'per-token': { type: 'integer', value: 'N', description: 'subbands per token with --srm (default 10)' },
    ...PATTERN_OPTIONS,
    'key-name': {
      type: 'string',
      value: 'FIELD',
      description: 'field for the start subband (default STARTSB)',
    },
    config: { type: 'string', value: 'FILE', description: 'token config (GRID_LRT .json or .cfg/.yaml)' },
    lenient: {
      type: 'boolean',
      description: 'unknown sections and keys of --config are warnings (default: errors with "did you mean")',
    },
    set: { type: 'string', value: 'KEY=VALUE', multiple: true, description: 'set a field on every token' },
    'id-suffix': { type: 'string', value: 'S', description: 'without --srm: create one token t_<type>_S' },
    attach: {
      type: 'string',
      value: 'FILE[:NAME]',
      multiple: true,
      description: 'attach FILE to every token',
    },
    'batch-size': {
      type: 'integer',
      value: 'N',
      description: `tokens per _bulk_docs request (default ${DEFAULT_BATCH_SIZE})`,
    },
    'dry-run': { type: 'boolean', description: 'show the tokens that would be created, write nothing' },
    force: {
      type: 'boolean',
      description: 'create slices even when existing tokens of the type cover some of their subbands',
    },
    'payload-moves-data': {
      type: 'boolean',
      description: 'the payload fetches its inputs and uploads its results: no stage_in, no stage_out',
    },
    'payload-moves-inputs': { type: 'boolean', description: 'no stage_in: the payload fetches its inputs' },
    'payload-moves-results': {
      type: 'boolean',
      description: 'no stage_out: the payload uploads its results (LOFAR upload_results)',
    },
    stage: {
      type: 'boolean',
      description: 'stage the SURLs (one LTA request) and create the tokens in status staging, not todo',
    },
    ...PICAS_OPTIONS,
    ...STAGER_OPTIONS,
  },
  examples: [
    'lrt tokens create --type demo --srm srm_50_sara.txt --per-token 10 --config cal_pref3.json',
    'lrt tokens create --type demo --id-suffix manual --set manual_int=0 --attach srm.txt:srm_at_token_create.txt',
  ],
  async run(ctx) {
    const template = await readTemplate(ctx);
    const type = ctx.options.type ?? template.type;
    if (!type) throw new LrtError('E_USAGE', "--type is required. Run 'lrt tokens create --help'.");
    assertTokenType(type);
    const planned = await plannedTokens(ctx, type, template.fields);
    warnIncomplete(ctx, template, planned.first);
    // The template stands for every token: a bad field or attachment name stops here, nothing written.
    buildTokenDoc(type, planned.first);
    if (ctx.options['dry-run']) return dryRun(ctx, type, planned);
    const stager = ctx.options.stage ? await stagerFromContext(ctx) : undefined;
    const picas = picasFromContext(ctx);
    const db = await ensureDatabase(picas);
    if (db === 'created') ctx.out.note(`created database ${picas.name} on ${picas.settings.url}`);
    await ensureDesignDoc(picas, type);
    if (planned.list && !ctx.options.force) await refuseOverlaps(picas, planned.list);
    const progress = ctx.out.progress('creating tokens', planned.count);
    let reported = 0;
    // Ctrl-C stops between two batches: what was sent is whole, and the summary says so.
    const stop = stopOnSignal();
    const movement = new DataMovementTally();
    const createOptions = {
      batchSize: ctx.options['batch-size'] ?? DEFAULT_BATCH_SIZE,
      onProgress: (done: number) => {
        progress.tick(done - reported);
        reported = done;
      },
      signal: stop.signal,
      total: planned.count,
      // The ids are printed with --json only; a million of them is memory the command need not hold.
      keepIds: ctx.out.json,
      onCreated: (token: NewToken) => movement.add(token),
    };
    let report: Awaited<ReturnType<typeof bulkCreateTokens>>;
    let gated: Awaited<ReturnType<typeof submitAndMarkStaging>> | undefined;
    try {
      if (stager) {
        // One staging request for all new SURLs: --stage holds the tokens (see --help).
        const tokens: NewToken[] = [];
        for await (const token of planned.tokens()) tokens.push(token);
        gated = await submitAndMarkStaging(picas, type, tokens, { ...createOptions, stager });
      }
      report = gated ?? (await bulkCreateTokens(picas, type, planned.tokens(), createOptions));
    } finally {
      stop.dispose();
      progress.done();
    }
    if (report.interrupted)
      return reportInterrupted(ctx, { type, database: picas.name, total: planned.count, report });
    if (gated?.requests.length) {
      ctx.out.note(
        `staging request ${gated.requests.join(', ')}: 'lrt stage release --type ${type} --watch' moves the tokens to todo`,
      );
    }
    const dataMovement = movement.summary();
    const { counts } = report;
    ctx.out.result({ database: picas.name, url: picas.settings.url, type, ...report, dataMovement });
    ctx.out.line(
      `${counts.created} created, ${counts.existing} already existed, ${counts.failed} failed ` +
        `(type ${type}, database ${picas.name})`,
    );
    if (counts.created > 0) for (const line of describeDataMovement(dataMovement)) ctx.out.line(line);
    for (const f of report.failed) ctx.out.note(`failed: ${f.id}: ${f.error}`);
    return counts.failed > 0 ? EXIT.partial : EXIT.ok;
  },
});

/** --dry-run: every token that would be made, and what the pilot would move; nothing written. */
async function dryRun(ctx: CommandContext, type: string, planned: Planned): Promise<number> {
  const movement = new DataMovementTally();
  const shown: { id: string; fields?: Record<string, unknown>; attachments: object[] }[] = [];
  for await (const t of planned.tokens()) {
    movement.add(t);
    const attachments = (t.attachments ?? []).map((a) => ({
      name: a.name,
      contentType: a.contentType,
      length: a.data.length,
    }));
    ctx.out.line([t.id, ...attachments.map((a) => `${a.name} (${a.length} B)`)].join('  '));
    // The --json answer is one object: it lists the tokens (the text output above streams).
    if (ctx.out.json) shown.push({ id: t.id, fields: t.fields, attachments });
  }
  const dataMovement = movement.summary();
  ctx.out.result({ dryRun: true, type, tokens: shown, dataMovement });
  ctx.out.line(
    `dry run: ${countOf(planned.count, 'token')} of type ${type} would be created; nothing written`,
  );
  for (const line of describeDataMovement(dataMovement)) ctx.out.line(line);
  return EXIT.ok;
}

export const tokensShow = defineCommand({
  path: ['tokens', 'show'],
  summary: 'print one token as JSON (attachments as stubs)',
  json: 'the token document itself: {_id, _rev, type, lock, done, status, ...}, attachments as stubs',
  options: { ...PICAS_OPTIONS },
  positionals: [{ name: 'id', description: 'token id' }],
  async run(ctx) {
    const token = tokenToDoc(await getToken(picasFromContext(ctx), ctx.positionals[0]!));
    ctx.out.result(token);
    ctx.out.line(JSON.stringify(token, null, 2));
    return EXIT.ok;
  },
});

export const tokensAttach = defineCommand({
  path: ['tokens', 'attach'],
  summary: 'attach a file to a token (replaces an attachment of the same name)',
  json: '{token, name, rev, replaced, contentType}',
  options: {
    name: { type: 'string', value: 'NAME', description: 'attachment name (default: the file name)' },
    'content-type': { type: 'string', value: 'TYPE', description: 'content type (default: from the name)' },
    ...PICAS_OPTIONS,
  },
  positionals: [
    { name: 'id', description: 'token id' },
    { name: 'file', description: 'file to attach' },
  ],
  async run(ctx) {
    const [id, file] = ctx.positionals as [string, string];
    const name = ctx.options.name ?? attachmentNameFor(file);
    const contentType = ctx.options['content-type'] ?? contentTypeFor(name);
    const res = await addAttachment(
      picasFromContext(ctx),
      id,
      name,
      { path: resolve(ctx.cwd, file) },
      contentType,
    );
    ctx.out.result({ ...res, contentType });
    ctx.out.line(`${res.replaced ? 'replaced' : 'attached'} ${name} (${contentType}) on token ${id}`);
    return EXIT.ok;
  },
});

export const tokensGetAttachment = defineCommand({
  path: ['tokens', 'get-attachment'],
  summary: 'write the bytes of a token attachment to stdout or a file, verbatim',
  json: '{token, name, contentType, length, base64}; with -o FILE: {token, name, contentType, length, file}',
  description: 'With --json and no -o, prints {token, name, contentType, length, base64}.',
  options: {
    output: { type: 'string', short: 'o', value: 'FILE', description: 'write to FILE instead of stdout' },
    ...PICAS_OPTIONS,
  },
  positionals: [
    { name: 'id', description: 'token id' },
    { name: 'name', description: 'attachment name' },
  ],
  async run(ctx) {
    const [id, name] = ctx.positionals as [string, string];
    const { info, data } = await readAttachment(picasFromContext(ctx), id, name);
    const { output } = ctx.options;
    if (output && output !== '-') {
      const path = resolve(ctx.cwd, output);
      await writeFile(path, data).catch((err: NodeJS.ErrnoException) => {
        throw new LrtError('E_IO', `cannot write ${output}: ${fileProblem(err, 'write')}`, { cause: err });
      });
      ctx.out.result({ token: id, ...info, file: path });
      ctx.out.note(`wrote ${data.length} bytes to ${output}`);
    } else if (ctx.out.json) {
      ctx.out.result({ token: id, ...info, base64: data.toString('base64') });
    } else {
      // Output only writes text lines; attachment bytes go to the real stdout untouched.
      await new Promise<void>((done, fail) =>
        process.stdout.write(data, (err) => (err ? fail(err) : done())),
      );
    }
    return EXIT.ok;
  },
});

export const tokensCreateCommands = [tokensCreate, tokensShow, tokensAttach, tokensGetAttachment];
