import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { isLrtError, type LrtError } from '../../src/core';
import {
  applyFieldOverrides,
  buildTokenTemplate,
  loadTokenConfigFile,
  missingTokenKeyFields,
  parseTokenConfig,
} from '../../src/picas/tokenConfig';
import { jsonErrorPosition, lineColumnAt } from '../../src/picas/tokenConfig/jsonOrYaml';
import type { TokenConfigKind } from '../../src/picas/tokenConfig/template';
import { assertAttachmentName, buildTokenDoc } from '../../src/picas/tokens';
import { parseTokvar, variablesFromConfig } from '../../src/pilot/variableMap';

const DIR = join(__dirname, '../fixtures/configs');
// biome-ignore lint/suspicious/noExplicitAny: fixtures are free-form; tests walk into them by name
type Raw = Record<string, any>;
const text = (rel: string) => readFileSync(join(DIR, rel), 'utf8');
/** The fixture as GRID_LRT saw it: json.load or yaml.load. */
const raw = (rel: string): Raw => (rel.endsWith('.json') ? JSON.parse(text(rel)) : parseYaml(text(rel)));
const load = (rel: string) => loadTokenConfigFile(join(DIR, rel));

/** Fields GRID_LRT's create_token set itself, whatever the config said. */
const CREATOR_FIELDS = ['_id', 'type', 'lock', 'done', 'hostname', 'scrub_count', 'output'];
const withoutCreatorFields = (fields: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(fields).filter(([k]) => !CREATOR_FIELDS.includes(k) && !k.startsWith('_')),
  );

/** GRID_LRT 1.0 TokenDictBuilder._build_from_dict, transcribed from its Python. */
function gridLrtTokenData(config: Raw): Record<string, unknown> {
  const data: Raw = { 'config.json': {} };
  const { variables, ...token } = config.Token ?? {};
  Object.assign(data, token);
  Object.assign(data, config.Job?.variables ?? {});
  const vars = variables ?? config.variables;
  if (vars !== undefined) data['config.json'].variables = vars;
  if (config.container !== undefined) data['config.json'].container = config.container;
  if (config.sandbox !== undefined) data['config.json'].sandbox = config.sandbox;
  return data;
}

/** Every fixture with the generation it belongs to (SOURCES.md of the fixtures). */
const KINDS: Record<string, TokenConfigKind | 'invalid'> = {
  'launcher/cal_pref3.json': 'picas-json',
  'launcher/cal_pref3_v1.0.json': 'picas-json',
  'launcher/targ1_pref3.json': 'picas-json',
  'launcher/targ2_pref3.json': 'picas-json',
  'launcher/move.json': 'picas-json',
  'launcher/basic_token.json': 'picas-json',
  'launcher/basic_token_att.json': 'picas-json',
  'launcher/basic_token_sbx.json': 'picas-json',
  'launcher/sandbox.json': 'picas-json',
  'launcher/sandbox_with_repos.json': 'invalid',
  'launcher/pref_targ2.cfg': 'legacy-step',
  'launcher/test_tok_var.cfg': 'tokvar',
  'grid_lrt/data/config/CI/move.json': 'picas-json',
  'grid_lrt/data/config/steps/cal_pref3.json': 'picas-json',
  'grid_lrt/data/config/steps/cal_pref3_v1.0.json': 'picas-json',
  'grid_lrt/data/config/steps/targ1_pref3.json': 'picas-json',
  'grid_lrt/data/config/steps/targ2_pref3.json': 'picas-json',
  'grid_lrt/data/config/DYSCO_parset.cfg': 'legacy-step',
  'grid_lrt/data/config/NDPPP_parset.cfg': 'legacy-step',
  'grid_lrt/data/config/bash_file.cfg': 'legacy-step',
  'grid_lrt/data/config/tutorial.cfg': 'legacy-step',
  'grid_lrt/data/config/wsclean.cfg': 'legacy-step',
  'grid_lrt/data/config/steps/ddf_ampphase.cfg': 'legacy-step',
  'grid_lrt/data/config/steps/pref_cal1.cfg': 'legacy-step',
  'grid_lrt/data/config/steps/pref_cal1_juelich.cfg': 'legacy-step',
  'grid_lrt/data/config/steps/pref_cal2.cfg': 'legacy-step',
  'grid_lrt/data/config/steps/pref_targ1.cfg': 'legacy-step',
  'grid_lrt/data/config/steps/pref_targ2.cfg': 'legacy-step',
  'grid_lrt/tests/sandbox_config_NDPPP_from_git.cfg': 'legacy-step',
  'grid_lrt/legacy-2017/config/tokens/pref_cal1.cfg': 'legacy-token',
  'grid_lrt/legacy-2017/config/sandboxes/pref_cal1.cfg': 'legacy-sandbox',
  'grid_lrt/legacy-2018/Sandbox/scripts/lofar_prefactor/tokvar.cfg': 'tokvar',
  // tokens dumped from a database, read back as a config
  'grid_lrt/samples/token_tokenset_tutorial_cfg.json': 'legacy-token',
  'grid_lrt/samples/token_tokenset_no_config.json': 'legacy-token',
};
const ALL = readdirSync(DIR, { recursive: true, encoding: 'utf8' })
  .filter((p) => /\.(json|cfg)$/.test(p))
  .map((p) => p.split('\\').join('/'))
  .sort();
const VALID = ALL.filter((p) => KINDS[p] !== 'invalid');
const ofKind = (kind: TokenConfigKind) => VALID.filter((p) => KINDS[p] === kind);

async function configError(run: () => unknown): Promise<LrtError> {
  try {
    await run();
  } catch (err) {
    if (isLrtError(err)) return err;
    throw err;
  }
  throw new Error('expected an LrtError');
}

describe('every fixture', () => {
  it('is classified (a new fixture must be added to KINDS)', () => {
    expect(ALL.length).toBeGreaterThanOrEqual(30);
    expect(ALL.filter((p) => !(p in KINDS))).toEqual([]);
  });

  it.each(VALID)('%s gives fields a token creator accepts', async (rel) => {
    const template = await load(rel);
    expect(template.kind).toBe(KINDS[rel]);
    const names = Object.keys(template.fields);
    expect(names.filter((n) => n.startsWith('_') || CREATOR_FIELDS.includes(n))).toEqual([]);
    expect(JSON.parse(JSON.stringify(template.fields))).toEqual(template.fields);
    for (const att of template.attachments) expect(() => assertAttachmentName(att.name)).not.toThrow();
    const doc = buildTokenDoc('fixture', { id: 't_fixture_1', fields: template.fields });
    expect(doc).toMatchObject({ _id: 't_fixture_1', type: 'fixture', lock: 0, done: 0, ...template.fields });
    for (const w of template.warnings) expect(w.startsWith(join(DIR, rel))).toBe(true);
  });
});

describe('2019 JSON configs (GRID_LRT 1.0)', () => {
  it.each(ofKind('picas-json'))('%s: fields as TokenJsonBuilder built them', async (rel) => {
    const template = await load(rel);
    expect(template.fields).toEqual(withoutCreatorFields(gridLrtTokenData(raw(rel))));
  });

  it('cal_pref3.json: Token and Job.variables become fields, the rest config.json', async () => {
    const cfg = raw('launcher/cal_pref3.json');
    const { fields, extras, attachments, warnings } = await load('launcher/cal_pref3.json');
    expect(fields.status).toBe('queued');
    expect(fields.times).toEqual({});
    expect(fields.upload).toEqual(cfg.Token.upload);
    expect((fields.upload as { location: string }).location).toBe('$RESULTS_DIR');
    for (const [k, v] of Object.entries(cfg.Job.variables)) expect(fields[k]).toBe(v);
    expect(fields['config.json']).toEqual({
      variables: cfg.Token.variables,
      container: cfg.container,
      sandbox: cfg.sandbox,
    });
    expect(fields).not.toHaveProperty('NCPU');
    expect(fields).not.toHaveProperty('downloader');
    const { variables: _v, ...job } = cfg.Job;
    expect(extras.job).toEqual(job);
    expect(extras.downloader).toEqual(cfg.downloader);
    expect(attachments).toEqual(
      Object.entries(cfg.Token.variables._attachments).map(([env, name]) => ({
        name,
        variables: [env.slice(1)],
      })),
    );
    expect(warnings).toEqual([]);
  });

  it('cal_pref3.json: the old launcher finds what it reads in the token', async () => {
    const { fields } = await load('launcher/cal_pref3.json');
    const config = fields['config.json'] as Raw;
    // GRID_PiCaS_Launcher: export_dict_to_env reads config.json.variables, get_token_field the fields
    for (const field of Object.values(config.variables._token_keys))
      expect(fields).toHaveProperty([field as string]);
    // singularity.parse_json_payload and Sandbox.build_sandbox
    expect(typeof config.container.singularity.SIMG).toBe('string');
    expect(typeof config.sandbox.git.url).toBe('string');
    // bin/upload_results.py reads these token fields
    for (const field of ['upload', 'RESULTS_DIR', 'OBSID']) expect(fields).toHaveProperty([field]);
  });

  it('cal_pref3.json: the grid-lrt pilot reads the same variables from config.json', async () => {
    const cfg = raw('launcher/cal_pref3.json');
    const map = variablesFromConfig((await load('launcher/cal_pref3.json')).fields['config.json']);
    expect(map.warnings).toEqual([]);
    expect(map.tokenKeys.map((k) => [k.env, k.field])).toEqual(
      Object.entries(cfg.Token.variables._token_keys).map(([env, field]) => [env.slice(1), field]),
    );
  });

  it('Token._id and Token.type are left to the creator', async () => {
    const cfg = raw('launcher/cal_pref3_v1.0.json');
    const template = await load('launcher/cal_pref3_v1.0.json');
    expect(template.idPrefix).toBe(cfg.Token._id);
    expect(template.type).toBe(cfg.Token.type);
    expect(template.fields).not.toHaveProperty('type');
  });

  it('missingTokenKeyFields names _token_keys fields neither Token nor Job.variables gives', async () => {
    const cfg = raw('launcher/targ1_pref3.json');
    const given = { ...cfg.Token, ...cfg.Job.variables };
    const expected = Object.entries(cfg.Token.variables._token_keys as Record<string, string>)
      .filter(([, field]) => !(field in given))
      .map(([env, field]) => ({ variable: env.slice(1), field }));
    expect(expected.length).toBeGreaterThan(0);
    const { fields } = await load('launcher/targ1_pref3.json');
    expect(missingTokenKeyFields(fields)).toEqual(expected);
    const complete = Object.fromEntries(expected.map((m) => [m.field, 'x']));
    expect(missingTokenKeyFields({ ...fields, ...complete })).toEqual([]);
  });
});

describe('legacy YAML configs (GRID_LRT 0.x)', () => {
  it.each(ofKind('legacy-step'))('%s: Token -> fields, no config.json', async (rel) => {
    const cfg = raw(rel);
    const template = await load(rel);
    expect(template.fields).toEqual(withoutCreatorFields(cfg.Token));
    expect(template.type).toBe(cfg.Token.type);
    expect(template.extras.legacySandbox).toEqual(cfg.Sandbox);
    expect(template.extras.tokvar).toEqual(cfg.Shell_variables);
    expect(template.attachments.map((a) => a.name)).toEqual(Object.keys(cfg.Shell_variables._attachments));
  });

  it('tutorial.cfg gives the token GRID_LRT made from it (samples/token_tokenset_tutorial_cfg.json)', async () => {
    const sample = raw('grid_lrt/samples/token_tokenset_tutorial_cfg.json');
    const { fields } = await load('grid_lrt/data/config/tutorial.cfg');
    // the creator adds the per-token start subband, as TokenSet.create_dict_tokens did
    const doc = buildTokenDoc(sample.type, {
      id: sample._id,
      fields: { ...fields, STARTSB: sample.STARTSB },
    });
    const { _rev, _attachments, ...stored } = sample;
    expect(doc).toEqual(stored);
  });

  it('pref_targ2.cfg: SBXloc stays a field, Shell_variables name the attachments and variables', async () => {
    const cfg = raw('launcher/pref_targ2.cfg');
    const template = await load('launcher/pref_targ2.cfg');
    expect(template.fields.SBXloc).toBe(cfg.Token.SBXloc);
    expect(template.fields).not.toHaveProperty('config.json');
    const parset = Object.keys(cfg.Shell_variables._attachments).find((n) => n.endsWith('.parset'));
    expect(template.attachments).toContainEqual({ name: parset, variables: ['PARSET'] });
    expect(template.attachments).toContainEqual({ name: 'srm.txt', variables: [] });
    expect(template.warnings).toEqual([]);
  });

  it('2017 token file: every key is a field', async () => {
    const rel = 'grid_lrt/legacy-2017/config/tokens/pref_cal1.cfg';
    const template = await load(rel);
    expect(template.fields).toEqual(withoutCreatorFields(raw(rel)));
    expect(template.type).toBe(raw(rel).type);
  });

  it('2017 sandbox file: token.keys -> fields, token_type -> type', async () => {
    const rel = 'grid_lrt/legacy-2017/config/sandboxes/pref_cal1.cfg';
    const cfg = raw(rel);
    const template = await load(rel);
    expect(template.fields).toEqual(cfg.token.keys);
    expect(template.type).toBe(cfg.token.token_type);
    expect(template.extras.tokvar).toEqual(cfg.tokvar);
    expect(template.extras.legacySandbox).toEqual(cfg.sandbox);
  });

  it.each(ofKind('tokvar'))(
    '%s: a tokvar file gives no fields, and the attachments the pilot fetches',
    async (rel) => {
      const template = await load(rel);
      expect(template.fields).toEqual({});
      expect(template.extras.tokvar).toEqual(raw(rel));
      expect(template.warnings.join('\n')).toMatch(/tokvar/);
      const pilot = parseTokvar(text(rel));
      expect(template.attachments).toEqual(
        pilot.attachments.map((a) => ({ name: a.attachment, variables: a.env ? [a.env] : [] })),
      );
    },
  );

  it('a token dumped from the database loses what CouchDB and the creator own', async () => {
    const rel = 'grid_lrt/samples/token_tokenset_no_config.json';
    const template = await load(rel);
    expect(template.fields).toEqual(withoutCreatorFields(raw(rel)));
    expect(template.warnings.join('\n')).toContain('_rev');
    expect(template.warnings.join('\n')).toContain('_attachments');
  });
});

describe('invalid files', () => {
  it('sandbox_with_repos.json: E_CONFIG naming the file, line and column', async () => {
    const rel = 'launcher/sandbox_with_repos.json';
    const body = text(rel);
    // the array opened by "scripts":[ holds a key: the ':' after "prefactor" is where JSON breaks
    const offset = body.indexOf(':', body.indexOf('"prefactor"', body.indexOf('"scripts"')));
    const before = body.slice(0, offset).split('\n');
    const line = before.length;
    const column = before[before.length - 1]!.length + 1;
    const err = await configError(() => load(rel));
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toContain(`${join(DIR, rel)}:${line}:${column}`);
    expect(err.message).toContain(`line ${line}, column ${column}`);
    expect(err.details).toMatchObject({ file: join(DIR, rel), line, column });
  });

  it('JSON errors without a position still name the file and the cause', async () => {
    const err = await configError(() => parseTokenConfig('{"Token": tru}', 'bad.json'));
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toMatch(/^bad\.json: token config is not valid JSON/);
    expect(err.message.length).toBeGreaterThan('bad.json: token config is not valid JSON: '.length);
  });

  it('reads positions from both V8 message shapes and gives up on others', () => {
    const body = '{\n  "a": 1,\n  oops\n}';
    const at = body.indexOf('oops');
    expect(jsonErrorPosition(`Unexpected token in JSON at position ${at}`, body)).toEqual({
      line: 3,
      column: 3,
    });
    expect(jsonErrorPosition(`Bad thing at position ${at} (line 7 column 9)`, body)).toEqual({
      line: 7,
      column: 9,
    });
    expect(jsonErrorPosition('Unexpected end of JSON input', body)).toBeUndefined();
    expect(lineColumnAt('ab\r\ncd', 5)).toEqual({ line: 2, column: 2 });
  });

  it.each([
    ['a bad indent', 'Token:\n  status: queued\n times: {}\n', 3],
    ['a duplicate key', 'Token:\n  status: queued\n  status: done\n', 3],
    ['an unclosed flow list', 'Token:\n  list: [1, 2\nJob: {}\n', 3],
  ])('YAML with %s: E_CONFIG with file:line', async (_what, body, line) => {
    const err = await configError(() => parseTokenConfig(body, 'step.cfg'));
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toMatch(
      new RegExp(`^step\\.cfg:${line}:\\d+: token config is not valid YAML at line ${line}`),
    );
  });

  it.each([
    ['an empty file', '', 'is empty'],
    ['a list', '[1, 2]', 'must be an object'],
    ['a YAML set', 'Token:\n  s: !!set {a}\n', 'Token.s is not a JSON value'],
    ['NaN', 'Token:\n  n: .nan\n', 'Token.n is NaN'],
  ])('%s is refused', async (_what, body, why) => {
    const err = await configError(() => parseTokenConfig(body, 'x.cfg'));
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toContain(why);
  });

  const cal = () => raw('launcher/cal_pref3.json');
  it.each<[string, (c: Raw) => void, string]>([
    ['Token is a list', (c) => (c.Token = ['status']), 'Token must be an object'],
    [
      'a _token_keys value is a number',
      (c) => (c.Token.variables._token_keys.$OBSID = 5),
      '_token_keys["$OBSID"]',
    ],
    [
      'an attachment name has a /',
      (c) => (c.Token.variables._attachments.$PARSET = '../x'),
      'path separator',
    ],
    ['a variable is no shell name', (c) => (c.Token.variables._token_keys['$MY-VAR'] = 'X'), '"$MY-VAR"'],
    ['Job.variables is a list', (c) => (c.Job.variables = []), 'Job.variables must be an object'],
    ['upload.gzip is a string', (c) => (c.Token.upload.gzip = 'yes'), 'Token.upload.gzip'],
    ['sandbox.scripts is an object', (c) => (c.sandbox.scripts = {}), 'sandbox.scripts'],
    [
      'a script has no url',
      (c) => delete c.sandbox.scripts[0].prefactor.url,
      'sandbox.scripts[0].prefactor.url',
    ],
    ['container is a string', (c) => (c.container = 'shub://x'), 'container must be an object'],
    ['PicasApiVersion is 0.4', (c) => (c.PicasApiVersion = 0.4), 'PicasApiVersion'],
  ])('E_CONFIG when %s', (_what, spoil, where) => {
    const config = cal();
    spoil(config);
    const err = (() => {
      try {
        buildTokenTemplate(config, 'cal.json');
      } catch (e) {
        return e as LrtError;
      }
      throw new Error('expected an error');
    })();
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toMatch(/^cal\.json: /);
    expect(err.message).toContain(where);
  });

  it('legacy Shell_variables with a non-string value is refused', async () => {
    const body = text('launcher/pref_targ2.cfg').replace("OBSID : '$OBSID'", 'OBSID : [1]');
    const err = await configError(() => parseTokenConfig(body, 'pref_targ2.cfg'));
    expect(err.message).toContain('Shell_variables.OBSID must be a string');
  });
});

describe('strict configs: unknown sections and keys are errors', () => {
  it.each([
    ['a section', (c: Raw) => (c.Tokne = c.Token), 'unknown section "Tokne": did you mean "Token"?'],
    ['a section in lower case', (c: Raw) => (c.job = c.Job), 'unknown section "job": did you mean "Job"?'],
    [
      'an upload key',
      (c: Raw) => (c.Token.upload.templte = 'x'),
      'unknown key "Token.upload.templte": did you mean "Token.upload.template"?',
    ],
    ['a Job key', (c: Raw) => (c.Job.NCPUS = 4), 'unknown key "Job.NCPUS": did you mean "Job.NCPU"?'],
    [
      'a container key',
      (c: Raw) => (c.container.singularity.SIMG_COMIT = 'x'),
      'did you mean "container.singularity.SIMG_COMMIT"?',
    ],
    ['a repository key', (c: Raw) => (c.sandbox.git.brnach = 'x'), 'did you mean "sandbox.git.branch"?'],
    [
      'a variables section',
      (c: Raw) => (c.Token.variables._token_key = {}),
      'did you mean "Token.variables._token_keys"?',
    ],
    ['a downloader key', (c: Raw) => (c.downloader.option = []), 'did you mean "downloader.options"?'],
    [
      'a field the pilot reads',
      (c: Raw) => (c.Token.uplaod = {}),
      'unknown key "Token.uplaod": did you mean "Token.upload"?',
    ],
    [
      'a sandbox key that is no repository',
      (c: Raw) => (c.sandbox.scipts = []),
      'did you mean "sandbox.scripts"?',
    ],
  ])('%s: names the file and the key, with the close name', (_what, change, message) => {
    const config = raw('launcher/cal_pref3.json');
    change(config);
    let err: unknown;
    try {
      buildTokenTemplate(config, 'cal.json');
    } catch (e) {
      err = e;
    }
    expect(isLrtError(err, 'E_CONFIG')).toBe(true);
    expect((err as Error).message).toContain('cal.json: ');
    expect((err as Error).message).toContain(message);
    expect((err as Error).message).toContain('--lenient');
  });

  it('a key close to nothing lists the known ones; a legacy step config is strict too', () => {
    const config = raw('launcher/cal_pref3.json');
    config.Extra = { a: 1 };
    expect(() => buildTokenTemplate(config, 'cal.json')).toThrow(
      /unknown section "Extra": known: Token, Job,/,
    );
    const legacy = 'Token:\n  status: todo\nShell_variabels:\n  OBSID: $OBSID\n';
    expect(() => parseTokenConfig(legacy, 'step.cfg')).toThrow(
      /step\.cfg: unknown section "Shell_variabels": did you mean "Shell_variables"\?/,
    );
  });

  it("fields of the user's own stay fields; GRID_LRT's sandbox.prefactor repository is kept", async () => {
    const config = raw('launcher/cal_pref3.json');
    Object.assign(config.Token, { PIPELINE: 'x', my_status_note: 'y', time: 1 });
    expect(buildTokenTemplate(config, 'cal.json').fields).toMatchObject({
      PIPELINE: 'x',
      my_status_note: 'y',
      time: 1,
    });
    const v1 = await load('grid_lrt/data/config/steps/cal_pref3_v1.0.json');
    expect(v1.warnings.join('\n')).toContain('sandbox.prefactor is kept');
  });

  it('--lenient (strict: false): the same mistakes are warnings with the hint; a section is ignored', () => {
    const config = raw('launcher/cal_pref3.json');
    config.Tokne = { status: 'x' };
    config.Job.NCPUS = 4;
    const template = buildTokenTemplate(config, 'cal.json', 'json', { strict: false });
    const all = template.warnings.join('\n');
    expect(all).toContain('cal.json: unknown section "Tokne" ignored (did you mean "Token"?)');
    expect(all).toContain('cal.json: unknown key "Job.NCPUS" kept as written (did you mean "Job.NCPU"?)');
    expect(template.fields).not.toHaveProperty('Tokne');
  });
});

describe('warnings, not errors', () => {
  it('unknown sections when lenient, creator fields with used values, and reserved names', () => {
    const config = raw('launcher/cal_pref3.json');
    config.Extra = { a: 1 };
    Object.assign(config.Token, { lock: 1600000000, scrub_count: 3, _rev: '1-x', done: 0 });
    const template = buildTokenTemplate(config, 'cal.json', 'json', { strict: false });
    const all = template.warnings.join('\n');
    expect(all).toContain('unknown section "Extra"');
    expect(all).toContain('Token.lock');
    expect(all).toContain('Token.scrub_count');
    expect(all).toContain('Token._rev');
    expect(all).not.toContain('Token.done');
    expect(template.fields).not.toHaveProperty('Extra');
    expect(template.fields).not.toHaveProperty('lock');
  });

  it('a Job variable replaces a Token field, with a warning', () => {
    const config = raw('launcher/cal_pref3.json');
    config.Token.OBSID = 'L000001';
    const template = buildTokenTemplate(config, 'cal.json');
    expect(template.fields.OBSID).toBe(config.Job.variables.OBSID);
    expect(template.warnings.join('\n')).toContain('Job.variables.OBSID');
  });

  it('a top-level upload is used when Token has none; the template shares nothing with the input', () => {
    const config = raw('launcher/cal_pref3.json');
    const upload = config.Token.upload;
    delete config.Token.upload;
    config.upload = upload;
    const template = buildTokenTemplate(config, 'cal.json');
    expect(template.fields.upload).toEqual(upload);
    upload.location = 'changed';
    expect((template.fields.upload as { location: string }).location).toBe('$RESULTS_DIR');
  });
  it('field names that are Object.prototype members are plain fields', () => {
    const config = { Token: { constructor: 1, variables: { _token_keys: { $X: 'toString' } } } };
    const template = buildTokenTemplate(config, 'odd.json');
    expect(Object.hasOwn(template.fields, 'constructor')).toBe(true);
    expect(template.fields.constructor).toBe(1);
    expect(missingTokenKeyFields(template.fields)).toEqual([{ variable: 'X', field: 'toString' }]);
  });
});

describe('loadTokenConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lrt-token-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names a missing file and a directory', async () => {
    const missing = join(dir, 'nope.json');
    const err = await configError(() => loadTokenConfigFile(missing));
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toBe(`cannot read token config ${missing}: no such file`);
    mkdirSync(join(dir, 'sub'));
    expect((await configError(() => loadTokenConfigFile(join(dir, 'sub')))).message).toContain('directory');
  });

  it('reads the 2019 format written as YAML, and JSON with a byte-order mark', async () => {
    const cfg = raw('launcher/cal_pref3.json');
    const yamlFile = join(dir, 'cal.yaml');
    writeFileSync(yamlFile, `# the same config in block YAML\n${toYaml(cfg)}`);
    const bomFile = join(dir, 'bom.json');
    writeFileSync(bomFile, `\uFEFF${text('launcher/cal_pref3.json')}`);
    const expected = (await load('launcher/cal_pref3.json')).fields;
    expect((await loadTokenConfigFile(yamlFile)).fields).toEqual(expected);
    expect((await loadTokenConfigFile(bomFile)).fields).toEqual(expected);
  });
});

describe('applyFieldOverrides', () => {
  const base = (): Record<string, unknown> => ({ OBSID: 'L1', upload: { gzip: false } });

  it('parses JSON values and keeps anything else as text', () => {
    const fields = base();
    const out = applyFieldOverrides(fields, [
      'NCPU=6',
      'wholenode=false',
      'nothing=null',
      'upload={"gzip":true}',
      'list=[1,"a"]',
      'OBSID=L229585',
      'STARTSB=000',
      'QUOTED="6"',
      'RESULTS_DIR=gsiftp://host/path?a=b',
      'EMPTY=',
      'BIG=12345678901234567890',
    ]);
    expect(out).toEqual({
      OBSID: 'L229585',
      upload: { gzip: true },
      NCPU: 6,
      wholenode: false,
      nothing: null,
      list: [1, 'a'],
      STARTSB: '000',
      QUOTED: '6',
      RESULTS_DIR: 'gsiftp://host/path?a=b',
      EMPTY: '',
      BIG: '12345678901234567890',
    });
    expect(fields).toEqual(base());
  });

  it.each([
    ['NO_EQUALS', 'KEY=VALUE'],
    ['=x', 'empty'],
    ['_id=t_x', "starting with '_'"],
    ['_attachments={}', "starting with '_'"],
    ['type=other', 'creator'],
    ['lock=1', 'creator'],
  ])('refuses %s', (assignment, why) => {
    let caught: unknown;
    try {
      applyFieldOverrides(base(), [assignment]);
    } catch (err) {
      caught = err;
    }
    expect(isLrtError(caught, 'E_USAGE')).toBe(true);
    expect((caught as LrtError).message).toContain(why);
    expect((caught as LrtError).message).toContain(JSON.stringify(assignment));
  });
});
