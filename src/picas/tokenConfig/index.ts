import { readFile } from 'node:fs/promises';
import { decodeUtf8, fileProblem, LrtError } from '../../core';
import { type ConfigSyntax, parseConfigText } from './jsonOrYaml';
import {
  legacySandboxTemplate,
  legacyStepTemplate,
  legacyTokenTemplate,
  looksLikeTokenDump,
  looksLikeTokvar,
  tokvarTemplate,
} from './legacyFormats';
import { PICAS_SECTIONS, picasTemplate } from './picasJsonFormat';
import {
  ConfigReader,
  type ConfigReadOptions,
  isRecord,
  type JsonRecord,
  type TokenConfigKind,
  type TokenTemplate,
} from './template';

/*
 * The token config, every generation of it: which format a file is, loading it, --set overrides.
 * jsonOrYaml.ts reads the text (errors at line:column), picasJsonFormat.ts and legacyFormats.ts
 * turn each format into the TokenTemplate of template.ts.
 *
 * GRID_LRT token configs -> the fields every token of a set gets (the creator adds `_id`, `type`,
 * `lock`, `done` and per-token values such as STARTSB).
 *
 * 2019 format, GRID_LRT 1.0 TokenJsonBuilder (cal_pref3.json, targ*_pref3.json, CI/move.json):
 * | config                             | token                                                       |
 * |------------------------------------|-------------------------------------------------------------|
 * | Token.<field>                      | <field> as written (status "queued", times, upload, SBXloc)  |
 * | Token.variables (else variables)   | config.json.variables: _token_keys {"$ENV": field},          |
 * |                                    |   _attachments {"$ENV": attachment}; launchers read these    |
 * | Job.variables.<field>              | <field>, after Token (Job wins): OBSID, RESULTS_DIR ...      |
 * | Job.<other> (NCPU, queue ...)      | extras.job for submission; not in the token                  |
 * | container                          | config.json.container (launcher pulls singularity.SIMG)      |
 * | sandbox                            | config.json.sandbox (git + scripts the launcher clones)      |
 * | upload                             | upload, unless Token.upload exists (launcher reads upload)   |
 * | downloader                         | extras.downloader (GRID_LRT left it out of the token)        |
 * | PicasApiVersion, _apiVersion       | checked (>= 0.5, as GRID_LRT), not copied                    |
 * | Token._id, Token.type              | idPrefix, type: the creator decides id and type              |
 * | Token.lock/done/hostname/          | not copied: GRID_LRT's create_token reset them (a value      |
 * |   scrub_count/output               |   other than a fresh token's is a warning)                   |
 * | other `_` fields                   | not copied (CouchDB owns them), warning                      |
 * | names in _attachments              | attachments: the files each token must carry                 |
 * `config.json` is always present, as GRID_LRT made it. `$RESULTS_DIR` and friends inside values
 * stay as written: the pilot expands them.
 *
 * Legacy YAML, GRID_LRT 0.x (legacyFormats.ts; no `config.json`, as those tokens had none):
 * | 2018 step (tutorial.cfg)  | Token -> fields (SBXloc included); Sandbox, Shell_variables -> extras |
 * | 2017 sandbox cfg          | token.keys -> fields, token.token_type -> type; sandbox, tokvar -> extras |
 * | 2017 token cfg            | every key -> a field                                                |
 * | tokvar.cfg                | no fields; the mapping -> extras.tokvar, with a warning             |
 * Attachments named in Shell_variables/tokvar `_attachments` are listed in `attachments`.
 */

function kindOf(config: JsonRecord, syntax: ConfigSyntax): TokenConfigKind {
  const has = (key: string) => Object.hasOwn(config, key);
  if (['token', 'tokvar', 'reduction_params', 'executable'].some(has)) return 'legacy-sandbox';
  const tokenHasVariables = isRecord(config.Token) && Object.hasOwn(config.Token, 'variables');
  if (tokenHasVariables || PICAS_SECTIONS.some((k) => k !== 'Token' && has(k))) return 'picas-json';
  if (['Sandbox', 'Shell_variables', 'apiVersion'].some(has)) return 'legacy-step';
  // GRID_LRT 1.0 read JSON, 0.x read YAML: a bare Token section follows the file's syntax
  if (has('Token')) return syntax === 'json' ? 'picas-json' : 'legacy-step';
  if (looksLikeTokvar(config)) return 'tokvar';
  if (looksLikeTokenDump(config)) return 'legacy-token';
  return 'picas-json';
}

/**
 * Turns a parsed config into the template of a token set. Pure: `file` only names the source in
 * messages. Throws E_CONFIG naming the file and the offending path; an unknown section or key is
 * such an error (with the close known name) unless `options.strict` is false (then a warning).
 */
export function buildTokenTemplate(
  config: unknown,
  file: string,
  syntax: ConfigSyntax = 'json',
  options: ConfigReadOptions = {},
): TokenTemplate {
  // explicitly typed so that reader.fail (never) narrows `config`
  const reader: ConfigReader = new ConfigReader(file, options);
  if (config === null || config === undefined) reader.fail('the document', 'is empty');
  if (!isRecord(config))
    reader.fail('the document', 'must be an object of sections (Token, Job, sandbox ...)');
  switch (kindOf(config, syntax)) {
    case 'legacy-sandbox':
      return legacySandboxTemplate(reader, config);
    case 'legacy-step':
      return legacyStepTemplate(reader, config);
    case 'legacy-token':
      return legacyTokenTemplate(reader, config);
    case 'tokvar':
      return tokvarTemplate(reader, config);
    default:
      return picasTemplate(reader, config);
  }
}

/** Parses the text of a config file (JSON or YAML) and builds its template. */
export function parseTokenConfig(text: string, file: string, options: ConfigReadOptions = {}): TokenTemplate {
  const parsed = parseConfigText(text, file);
  const template = buildTokenTemplate(parsed.value, file, parsed.syntax, options);
  template.warnings.unshift(...parsed.warnings);
  return template;
}

/** The only I/O here: reads a config file and returns its template. */
export async function loadTokenConfigFile(
  path: string,
  options: ConfigReadOptions = {},
): Promise<TokenTemplate> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new LrtError('E_CONFIG', `cannot read token config ${path}: ${fileProblem(err)}`, {
      cause: err,
      details: { file: path },
    });
  }
  return parseTokenConfig(decodeUtf8(bytes, path, 'E_CONFIG'), path, options);
}

/**
 * A `--set` value: JSON when it reads as JSON (6, true, null, {"a":1}, [1], "quoted"), else the
 * text itself (L229585, 000, gsiftp://...). Integers JSON cannot hold exactly stay text.
 */
export function parseOverrideValue(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text;
  }
  if (typeof value === 'number' && !Number.isSafeInteger(value) && /^\s*-?\d+\s*$/.test(text)) return text;
  return value;
}

const NOT_OVERRIDABLE = new Set(['type', 'lock', 'done']);

/**
 * Applies the CLI's repeatable `--set KEY=VALUE` to template fields and returns a new object.
 * KEY is a top-level field name taken as is (`config.json` is one field, so no dotted paths).
 */
export function applyFieldOverrides(
  fields: Record<string, unknown>,
  assignments: readonly string[],
): JsonRecord {
  const result: JsonRecord = structuredClone(fields);
  for (const assignment of assignments) {
    const eq = assignment.indexOf('=');
    if (eq < 0) throw new LrtError('E_USAGE', `--set expects KEY=VALUE, got ${JSON.stringify(assignment)}`);
    const key = assignment.slice(0, eq);
    const why =
      key === ''
        ? 'the field name is empty'
        : key.startsWith('_')
          ? "field names starting with '_' are reserved by CouchDB"
          : NOT_OVERRIDABLE.has(key)
            ? 'the token creator sets it'
            : undefined;
    if (why)
      throw new LrtError('E_USAGE', `--set ${JSON.stringify(assignment)}: cannot set "${key}": ${why}`);
    result[key] = parseOverrideValue(assignment.slice(eq + 1));
  }
  return result;
}

/**
 * Token fields that `config.json.variables._token_keys` exports but the fields lack (the pilot
 * would export nothing for them). Call it after per-token values and overrides are in.
 */
export function missingTokenKeyFields(
  fields: Record<string, unknown>,
): { variable: string; field: string }[] {
  const configJson = fields['config.json'];
  const keys =
    isRecord(configJson) && isRecord(configJson.variables) ? configJson.variables._token_keys : undefined;
  if (!isRecord(keys)) return [];
  const missing: { variable: string; field: string }[] = [];
  for (const [name, field] of Object.entries(keys)) {
    if (typeof field === 'string' && field !== '_id' && !Object.hasOwn(fields, field)) {
      missing.push({ variable: name.replace(/^\$/, ''), field });
    }
  }
  return missing;
}
