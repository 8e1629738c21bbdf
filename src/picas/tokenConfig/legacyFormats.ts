import {
  addAttachment,
  addTokenFields,
  type ConfigReader,
  type JsonRecord,
  newTemplate,
  type TokenTemplate,
} from './template';

/*
 * GRID_LRT before 1.0 (2017/2018) read YAML configs with PyYAML and made tokens from the `Token`
 * section only (TokenSet: `yaml.load(f)['Token']`). `Shell_variables` became the sandbox's
 * `tokvar.cfg` and `Sandbox` described the tarball that `SBXloc` points to: neither went into
 * the token, and those tokens had no `config.json`. These readers keep it that way.
 */

/** Sections of the 2018 step files (tutorial.cfg, steps/pref_*.cfg). */
export const LEGACY_STEP_SECTIONS = ['Token', 'Sandbox', 'Shell_variables', 'apiVersion'] as const;
/** Sections of the 2017 sandbox files (config/sandboxes/*.cfg). */
export const LEGACY_SANDBOX_SECTIONS = [
  'sandbox',
  'token',
  'tokvar',
  'reduction_params',
  'executable',
] as const;
/** Fields that make a section-less mapping a token dump (2017 config/tokens/*.cfg). */
const TOKEN_MARKERS = ['lock', 'done', 'status', 'SBXloc', 'scrub_count'];

/**
 * A mapping is a `tokvar.cfg` when it holds nothing but `field: $VARIABLE` strings (plus
 * `_attachments`), at least one of them with a `$`.
 */
export function looksLikeTokvar(config: JsonRecord): boolean {
  let dollars = 0;
  for (const [key, value] of Object.entries(config)) {
    if (key === '_attachments') {
      if (value !== null && (typeof value !== 'object' || Array.isArray(value))) return false;
      continue;
    }
    if (typeof value !== 'string') return false;
    if (value.startsWith('$')) dollars++;
  }
  return dollars > 0;
}

export function looksLikeTokenDump(config: JsonRecord): boolean {
  return TOKEN_MARKERS.some((field) => Object.hasOwn(config, field));
}

/**
 * Checks a `field: $VARIABLE` mapping (tokvar.cfg, Shell_variables, tokvar) and lists its
 * attachments. As the old launcher did, only a `$NAME` value gives an attachment a variable.
 */
export function readTokvarMapping(
  reader: ConfigReader,
  template: TokenTemplate,
  value: unknown,
  path: string,
): JsonRecord {
  const mapping = reader.optionalRecord(value, path);
  for (const [field, target] of Object.entries(mapping)) {
    const at = path ? `${path}.${field}` : field;
    if (field !== '_attachments') {
      reader.envName(reader.string(target, at), at);
      continue;
    }
    for (const [name, variable] of Object.entries(reader.optionalRecord(target, at))) {
      const attAt = `${at}["${name}"]`;
      reader.attachmentName(name, attAt);
      const text = reader.string(variable, attAt);
      if (text.startsWith('$')) {
        addAttachment(template, name, reader.envName(text, attAt));
      } else {
        if (text !== name) reader.warn(`${attAt}: "${text}" has no '$': the file keeps its own name`);
        addAttachment(template, name);
      }
    }
  }
  return structuredClone(mapping);
}

/** The tarball description and the tokvar mapping: extras, under the section names of the config's year. */
function addLegacyExtras(
  reader: ConfigReader,
  template: TokenTemplate,
  config: JsonRecord,
  sections: { sandbox: string; tokvar: string },
): void {
  const sandbox = config[sections.sandbox];
  if (sandbox !== undefined) {
    template.extras.legacySandbox = structuredClone(reader.optionalRecord(sandbox, sections.sandbox));
  }
  const tokvar = config[sections.tokvar];
  if (tokvar !== undefined) {
    template.extras.tokvar = readTokvarMapping(reader, template, tokvar, sections.tokvar);
  }
}

/** 2018: `Token` -> fields, `Sandbox` and `Shell_variables` -> extras. */
export function legacyStepTemplate(reader: ConfigReader, config: JsonRecord): TokenTemplate {
  const template = newTemplate(reader.file, 'legacy-step', reader);
  reader.onlyKnown(config, '', LEGACY_STEP_SECTIONS);
  if (config.apiVersion !== undefined && typeof config.apiVersion !== 'number') {
    reader.fail('apiVersion', 'must be a number');
  }
  if (config.Token === undefined) reader.fail('Token', 'is missing: a step config needs its token fields');
  addTokenFields(reader, template, reader.record(config.Token, 'Token'), 'Token');
  addLegacyExtras(reader, template, config, { sandbox: 'Sandbox', tokvar: 'Shell_variables' });
  return template;
}

/** 2017 sandbox files: `token.keys` -> fields, `token.token_type` -> type, `tokvar` -> extras. */
export function legacySandboxTemplate(reader: ConfigReader, config: JsonRecord): TokenTemplate {
  const template = newTemplate(reader.file, 'legacy-sandbox', reader);
  reader.onlyKnown(config, '', LEGACY_SANDBOX_SECTIONS);
  if (config.token !== undefined) {
    const token = reader.optionalRecord(config.token, 'token');
    reader.onlyKnown(token, 'token', ['keys', 'token_type'], 'ignored');
    if (token.token_type !== undefined) template.type = reader.string(token.token_type, 'token.token_type');
    addTokenFields(reader, template, reader.optionalRecord(token.keys, 'token.keys'), 'token.keys');
  }
  addLegacyExtras(reader, template, config, { sandbox: 'sandbox', tokvar: 'tokvar' });
  return template;
}

/** 2017 token files: the whole mapping is the token. */
export function legacyTokenTemplate(reader: ConfigReader, config: JsonRecord): TokenTemplate {
  const template = newTemplate(reader.file, 'legacy-token', reader);
  addTokenFields(reader, template, config, '');
  return template;
}

/** A sandbox's `tokvar.cfg` given as a token config: it names variables but gives no fields. */
export function tokvarTemplate(reader: ConfigReader, config: JsonRecord): TokenTemplate {
  const template = newTemplate(reader.file, 'tokvar', reader);
  template.extras.tokvar = readTokvarMapping(reader, template, config, '');
  reader.warn(
    'this is a sandbox tokvar file (token field -> $VARIABLE), not a token config: it gives tokens no fields',
  );
  return template;
}
