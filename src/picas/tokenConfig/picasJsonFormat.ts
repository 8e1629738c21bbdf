import { closestName } from '../../core';
import {
  addAttachment,
  addTokenFields,
  type ConfigReader,
  isRecord,
  type JsonRecord,
  newTemplate,
  type TokenTemplate,
} from './template';

/** Sections of the 2019 format (GRID_LRT 1.0 TokenJsonBuilder); the mapping is tabled in tokenConfig/index.ts. */
export const PICAS_SECTIONS = [
  'Token',
  'Job',
  'variables',
  'container',
  'sandbox',
  'upload',
  'downloader',
  'PicasApiVersion',
  '_apiVersion',
];

/** Keys of each section, as GRID_LRT 1.0 and GRID_PiCaS_Launcher read them; anything else is a typo. */
const JOB_KEYS = ['NCPU', 'parameter_step', 'queue', 'command', 'wholenode', 'variables'];
const VARIABLES_KEYS = ['_token_keys', '_attachments'];
const UPLOAD_KEYS = [
  'location',
  'template',
  'add_date',
  'date_granularity',
  'gzip',
  'overwrite',
  'remove_prev',
];
const CONTAINER_KEYS = ['singularity'];
const SINGULARITY_KEYS = ['SIMG', 'SIMG_COMMIT'];
const REPOSITORY_KEYS = ['url', 'branch', 'commit', 'checkout_dir'];
const DOWNLOADER_KEYS = ['executable', 'options', 'extract'];
/** Token fields the pilot or the launcher acts on: a near miss of one is a typo, not a new field. */
const READ_TOKEN_FIELDS = [
  'status',
  'times',
  'upload',
  'SBXloc',
  'stage_in',
  'stage_out',
  'timeout_s',
  'lease_s',
];

function checkApiVersion(reader: ConfigReader, config: JsonRecord, key: string): void {
  const version = config[key];
  if (version === undefined) return;
  if (typeof version !== 'number') reader.fail(key, 'must be a number');
  if (version < 0.5)
    reader.fail(key, `is ${version}: configs older than 0.5 are not supported (as in GRID_LRT)`);
}

function optionalString(reader: ConfigReader, section: JsonRecord, key: string, path: string): void {
  if (section[key] !== undefined) reader.string(section[key], `${path}.${key}`);
}

function readVariables(
  reader: ConfigReader,
  template: TokenTemplate,
  value: unknown,
  path: string,
): JsonRecord {
  const variables = reader.record(value, path);
  for (const section of reader.onlyKnown(variables, path, VARIABLES_KEYS)) {
    const at = `${path}.${section}`;
    for (const [name, target] of Object.entries(reader.record(variables[section], at))) {
      const entryAt = `${at}["${name}"]`;
      const env = reader.envName(name, entryAt);
      if (section === '_attachments') {
        addAttachment(template, reader.attachmentName(target, entryAt), env);
      } else if (reader.string(target, entryAt) === '') {
        reader.fail(entryAt, 'names no token field');
      }
    }
  }
  return structuredClone(variables);
}

function checkUpload(reader: ConfigReader, value: unknown, path: string): JsonRecord {
  const upload = reader.record(value, path);
  reader.onlyKnown(upload, path, UPLOAD_KEYS);
  for (const key of ['location', 'template', 'date_granularity']) optionalString(reader, upload, key, path);
  for (const key of ['add_date', 'gzip', 'overwrite', 'remove_prev']) {
    if (upload[key] !== undefined && typeof upload[key] !== 'boolean') {
      reader.fail(`${path}.${key}`, 'must be true or false');
    }
  }
  return upload;
}

function checkContainer(reader: ConfigReader, value: unknown): JsonRecord {
  const container = reader.record(value, 'container');
  reader.onlyKnown(container, 'container', CONTAINER_KEYS);
  if (container.singularity === undefined) {
    reader.warn('container has no singularity section: GRID_PiCaS_Launcher only pulls singularity.SIMG');
    return container;
  }
  const singularity = reader.record(container.singularity, 'container.singularity');
  reader.onlyKnown(singularity, 'container.singularity', SINGULARITY_KEYS);
  optionalString(reader, singularity, 'SIMG', 'container.singularity');
  optionalString(reader, singularity, 'SIMG_COMMIT', 'container.singularity');
  return container;
}

function checkRepository(reader: ConfigReader, value: unknown, path: string): void {
  const repo = reader.record(value, path);
  reader.onlyKnown(repo, path, REPOSITORY_KEYS);
  reader.string(repo.url, `${path}.url`);
  for (const key of ['branch', 'commit', 'checkout_dir']) optionalString(reader, repo, key, path);
}

/** The launcher clones `git` and each `{name: repo}` of `scripts`. */
function checkSandbox(reader: ConfigReader, value: unknown): JsonRecord {
  const sandbox = reader.record(value, 'sandbox');
  if (sandbox.git !== undefined) checkRepository(reader, sandbox.git, 'sandbox.git');
  if (sandbox.scripts !== undefined) {
    if (!Array.isArray(sandbox.scripts))
      reader.fail('sandbox.scripts', 'must be a list of {name: repository}');
    sandbox.scripts.forEach((item, i) => {
      const at = `sandbox.scripts[${i}]`;
      const entries = Object.entries(reader.record(item, at));
      if (entries.length !== 1) reader.fail(at, 'must hold exactly one {name: repository}');
      for (const [name, repo] of entries) checkRepository(reader, repo, `${at}.${name}`);
    });
  }
  // GRID_LRT's own cal_pref3_v1.0.json names a script repository as a key of its own
  // (`sandbox.prefactor: {url, ...}`): kept, as it was; any other key is a typo.
  const isRepository = (v: unknown) => isRecord(v) && typeof v.url === 'string';
  const others = Object.keys(sandbox).filter((k) => k !== 'git' && k !== 'scripts');
  for (const key of others.filter((k) => isRepository(sandbox[k]))) {
    reader.warn(`sandbox.${key} is kept but launchers read only git and scripts`);
  }
  const odd = Object.fromEntries(others.filter((k) => !isRepository(sandbox[k])).map((k) => [k, sandbox[k]]));
  reader.onlyKnown(odd, 'sandbox', ['git', 'scripts']);
  return sandbox;
}

/** A Token field one letter or so off a field the pilot reads (`uplaod`) is taken for a typo. */
function checkFieldNames(reader: ConfigReader, token: JsonRecord, path: string): void {
  const suspicious = Object.keys(token).filter(
    (key) => key.length >= 5 && !READ_TOKEN_FIELDS.includes(key) && closestName(key, READ_TOKEN_FIELDS),
  );
  reader.onlyKnown(Object.fromEntries(suspicious.map((k) => [k, token[k]])), path, READ_TOKEN_FIELDS);
}

export function picasTemplate(reader: ConfigReader, config: JsonRecord): TokenTemplate {
  const template = newTemplate(reader.file, 'picas-json', reader);
  reader.onlyKnown(config, '', PICAS_SECTIONS);
  checkApiVersion(reader, config, 'PicasApiVersion');
  checkApiVersion(reader, config, '_apiVersion');
  const configJson: JsonRecord = {};
  if (config.Token !== undefined) {
    const { variables, 'config.json': given, ...token } = reader.record(config.Token, 'Token');
    checkFieldNames(reader, token, 'Token');
    // GRID_LRT filled the sections into whatever config.json the Token section already had
    if (given !== undefined)
      Object.assign(configJson, structuredClone(reader.record(given, 'Token.config.json')));
    addTokenFields(reader, template, token, 'Token');
    if (template.fields.upload !== undefined) checkUpload(reader, template.fields.upload, 'Token.upload');
    if (variables !== undefined)
      configJson.variables = readVariables(reader, template, variables, 'Token.variables');
  }
  if (config.variables !== undefined) {
    if (configJson.variables !== undefined) reader.warn('variables ignored: Token.variables takes its place');
    else configJson.variables = readVariables(reader, template, config.variables, 'variables');
  }
  if (config.Job !== undefined) {
    const { variables, ...job } = reader.record(config.Job, 'Job');
    reader.onlyKnown(job, 'Job', JOB_KEYS);
    template.extras.job = structuredClone(job);
    if (variables !== undefined) {
      addTokenFields(reader, template, reader.record(variables, 'Job.variables'), 'Job.variables');
    }
  }
  if (config.upload !== undefined) {
    const upload = checkUpload(reader, config.upload, 'upload');
    if (template.fields.upload !== undefined) reader.warn('upload ignored: Token.upload takes its place');
    else template.fields.upload = structuredClone(upload);
  }
  if (config.container !== undefined)
    configJson.container = structuredClone(checkContainer(reader, config.container));
  if (config.sandbox !== undefined)
    configJson.sandbox = structuredClone(checkSandbox(reader, config.sandbox));
  if (config.downloader !== undefined) {
    const downloader = reader.record(config.downloader, 'downloader');
    reader.onlyKnown(downloader, 'downloader', DOWNLOADER_KEYS);
    template.extras.downloader = structuredClone(downloader);
  }
  template.fields['config.json'] = configJson;
  return template;
}
