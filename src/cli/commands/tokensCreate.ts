import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { LrtError } from '../../core';
import { addAttachment, attachmentNameFor, contentTypeFor, readAttachment } from '../../picas/attachments';
import { bulkCreateTokens, DEFAULT_BATCH_SIZE } from '../../picas/bulk';
import { tokensFromSlices } from '../../picas/create';
import { assertTokenType } from '../../picas/designDoc';
import { ensureDatabase, ensureDesignDoc } from '../../picas/designDocs';
import { applyFieldOverrides, loadTokenConfigFile, missingTokenKeyFields } from '../../picas/tokenConfig';
import { type AttachmentInput, getToken, manualTokenId, type NewToken } from '../../picas/tokens';
import { chunksToRecord, DEFAULT_SUBBAND_PATTERN, readSurlListFile, sliceBySubband } from '../../srm';
import { submitAndMarkStaging } from '../../staging';
import { type Command, type CommandContext, flag, int, str, strs } from '../command';
import { EXIT } from '../exitCodes';
import { PICAS_OPTIONS, picasFromContext } from '../picasOptions';
import { STAGER_OPTIONS, stagerFromContext } from './stage';

async function readAttachFlag(ctx: CommandContext, spec: string): Promise<AttachmentInput> {
  // FILE[:NAME]: the last ':' splits only when what follows is a bare name (paths may hold ':').
  const colon = spec.lastIndexOf(':');
  const named = colon > 0 && !spec.slice(colon + 1).includes('/') && colon < spec.length - 1;
  const file = named ? spec.slice(0, colon) : spec;
  const name = named ? spec.slice(colon + 1) : attachmentNameFor(file);
  try {
    return { name, contentType: contentTypeFor(name), data: await readFile(resolve(ctx.cwd, file)) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const errorCode = code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO';
    throw new LrtError(errorCode, `--attach ${spec}: cannot read ${file} (${code})`, { cause: err });
  }
}

interface Template {
  fields: Record<string, unknown>;
  /** Attachments the config says every token carries. */
  attachments: string[];
  type?: string;
}

/** Fields from --config (GRID_LRT json or yaml) then --set; config warnings go to stderr. */
async function readTemplate(ctx: CommandContext): Promise<Template> {
  const file = str(ctx, 'config');
  const config = file ? await loadTokenConfigFile(resolve(ctx.cwd, file)) : undefined;
  for (const warning of config?.warnings ?? []) ctx.out.note(`warning: ${warning}`);
  return {
    fields: applyFieldOverrides(config?.fields ?? {}, strs(ctx, 'set')),
    attachments: (config?.attachments ?? []).map((a) => a.name),
    ...(config?.type ? { type: config.type } : {}),
  };
}

async function plannedTokens(
  ctx: CommandContext,
  type: string,
  fields: Record<string, unknown>,
): Promise<NewToken[]> {
  const attachments = await Promise.all(strs(ctx, 'attach').map((spec) => readAttachFlag(ctx, spec)));
  const srm = str(ctx, 'srm');
  const suffix = str(ctx, 'id-suffix');
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
    return [{ id: manualTokenId(type, suffix), fields, attachments }];
  }
  const list = await readSurlListFile(resolve(ctx.cwd, srm), srm);
  const pattern = {
    prefix: str(ctx, 'sb-prefix') ?? DEFAULT_SUBBAND_PATTERN.prefix,
    suffix: str(ctx, 'sb-suffix') ?? DEFAULT_SUBBAND_PATTERN.suffix,
  };
  if (pattern.prefix === '') throw new LrtError('E_USAGE', '--sb-prefix must not be empty');
  const chunks = sliceBySubband(list, int(ctx, 'per-token', 10, 1), pattern);
  return tokensFromSlices(type, chunksToRecord(chunks), {
    obsid: list.obsid,
    keyName: str(ctx, 'key-name') ?? 'STARTSB',
    fields,
    attachments,
  });
}

/** What the config promises the pilot but the tokens would lack: worth a warning, not an error. */
function warnIncomplete(ctx: CommandContext, template: Template, tokens: NewToken[]): void {
  const first = tokens[0];
  if (!first) return;
  const carried = new Set((first.attachments ?? []).map((a) => a.name));
  for (const name of template.attachments) {
    if (!carried.has(name))
      ctx.out.note(`warning: the config names attachment "${name}" but no --attach provides it`);
  }
  for (const { variable, field } of missingTokenKeyFields(first.fields ?? {})) {
    ctx.out.note(
      `warning: the config exports $${variable} from field ${field}, which the tokens lack (--set ${field}=...)`,
    );
  }
}

export const tokensCreate: Command = {
  path: ['tokens', 'create'],
  summary: 'create tokens: one per chunk of a SURL list (with its srm.txt), or one named token',
  description:
    'Ids are deterministic (t_<type>_<OBSID>_SB<nnn>, or t_<type>_<suffix>), so running the same\n' +
    'command again creates only what is missing and reports the rest as existing; an existing\n' +
    'token is never overwritten. Creates the database, the design document _design/<type> with\n' +
    "the standard views and the claim's _design/claim:<type> when they are missing or out of\n" +
    'date (a design document that is current is never rewritten). Fields come from --config (its Token and\n' +
    'Job.variables sections), then --set; STARTSB and OBSID are set per token from the list.',
  options: {
    type: {
      type: 'string',
      value: 'T',
      description: 'token type (design document _design/T); default: the type in --config',
    },
    srm: { type: 'string', value: 'FILE', description: 'SURL list: one token per chunk of subbands' },
    'per-token': { type: 'string', value: 'N', description: 'subbands per token with --srm (default 10)' },
    'sb-prefix': {
      type: 'string',
      value: 'TEXT',
      description: `text before the subband digits (default ${DEFAULT_SUBBAND_PATTERN.prefix})`,
    },
    'sb-suffix': {
      type: 'string',
      value: 'TEXT',
      description: `text after the subband digits (default ${DEFAULT_SUBBAND_PATTERN.suffix})`,
    },
    'key-name': {
      type: 'string',
      value: 'FIELD',
      description: 'field for the start subband (default STARTSB)',
    },
    config: { type: 'string', value: 'FILE', description: 'token config (GRID_LRT .json or .cfg/.yaml)' },
    set: { type: 'string', value: 'KEY=VALUE', multiple: true, description: 'set a field on every token' },
    'id-suffix': { type: 'string', value: 'S', description: 'without --srm: create one token t_<type>_S' },
    attach: {
      type: 'string',
      value: 'FILE[:NAME]',
      multiple: true,
      description: 'attach FILE to every token',
    },
    'batch-size': {
      type: 'string',
      value: 'N',
      description: `tokens per _bulk_docs request (default ${DEFAULT_BATCH_SIZE})`,
    },
    'dry-run': { type: 'boolean', description: 'show the tokens that would be created, write nothing' },
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
    const type = str(ctx, 'type') ?? template.type;
    if (!type) throw new LrtError('E_USAGE', "--type is required. Run 'lrt tokens create --help'.");
    assertTokenType(type);
    const tokens = await plannedTokens(ctx, type, template.fields);
    warnIncomplete(ctx, template, tokens);
    if (flag(ctx, 'dry-run')) {
      const shown = tokens.map((t) => ({
        id: t.id,
        fields: t.fields,
        attachments: (t.attachments ?? []).map((a) => ({
          name: a.name,
          contentType: a.contentType,
          length: a.data.length,
        })),
      }));
      ctx.out.result({ dryRun: true, type, tokens: shown });
      for (const t of shown)
        ctx.out.line(`${t.id}  ${t.attachments.map((a) => `${a.name} (${a.length} B)`).join(', ')}`);
      ctx.out.line(`dry run: ${tokens.length} tokens of type ${type} would be created; nothing written`);
      return EXIT.ok;
    }
    const stager = flag(ctx, 'stage') ? await stagerFromContext(ctx) : undefined;
    const picas = picasFromContext(ctx);
    const db = await ensureDatabase(picas);
    if (db === 'created') ctx.out.note(`created database ${picas.name} on ${picas.settings.url}`);
    await ensureDesignDoc(picas, type);
    const progress = ctx.out.progress('creating tokens', tokens.length);
    let reported = 0;
    const createOptions = {
      batchSize: int(ctx, 'batch-size', DEFAULT_BATCH_SIZE, 1),
      onProgress: (done: number) => {
        progress.tick(done - reported);
        reported = done;
      },
    };
    const gated = stager
      ? await submitAndMarkStaging(picas, type, tokens, { ...createOptions, stager })
      : undefined;
    const report = gated ?? (await bulkCreateTokens(picas, type, tokens, createOptions));
    progress.done();
    if (gated?.requests.length) {
      ctx.out.note(
        `staging request ${gated.requests.join(', ')}: 'lrt stage release --type ${type} --watch' moves the tokens to todo`,
      );
    }
    ctx.out.result({ database: picas.name, url: picas.settings.url, type, ...report });
    ctx.out.line(
      `${report.created.length} created, ${report.existing.length} already existed, ${report.failed.length} failed ` +
        `(type ${type}, database ${picas.name})`,
    );
    for (const f of report.failed) ctx.out.note(`failed: ${f.id}: ${f.error}`);
    return report.failed.length > 0 ? EXIT.partial : EXIT.ok;
  },
};

export const tokensShow: Command = {
  path: ['tokens', 'show'],
  summary: 'print one token as JSON (attachments as stubs)',
  options: { ...PICAS_OPTIONS },
  positionals: [{ name: 'id', description: 'token id' }],
  async run(ctx) {
    const token = await getToken(picasFromContext(ctx), ctx.positionals[0]!);
    ctx.out.result(token);
    ctx.out.line(JSON.stringify(token, null, 2));
    return EXIT.ok;
  },
};

export const tokensAttach: Command = {
  path: ['tokens', 'attach'],
  summary: 'attach a file to a token (replaces an attachment of the same name)',
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
    const name = str(ctx, 'name') ?? attachmentNameFor(file);
    const contentType = str(ctx, 'content-type') ?? contentTypeFor(name);
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
};

export const tokensGetAttachment: Command = {
  path: ['tokens', 'get-attachment'],
  summary: 'write the bytes of a token attachment to stdout or a file, verbatim',
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
    const output = str(ctx, 'output');
    if (output && output !== '-') {
      const path = resolve(ctx.cwd, output);
      await writeFile(path, data).catch((err: NodeJS.ErrnoException) => {
        throw new LrtError('E_IO', `cannot write ${output}: ${err.code ?? err.message}`, { cause: err });
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
};

export const tokensCreateCommands: Command[] = [tokensCreate, tokensShow, tokensAttach, tokensGetAttachment];
