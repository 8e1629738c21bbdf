import { closestName, isLrtError, LrtError } from '../../core';
import { assertAttachmentName } from '../tokens';

/** The generation of GRID_LRT config a file was read as (see the table in tokenConfig/index.ts). */
export type TokenConfigKind = 'picas-json' | 'legacy-step' | 'legacy-sandbox' | 'legacy-token' | 'tokvar';

/** A file every token of the set must carry, and the variables that receive its name. */
export interface TemplateAttachment {
  name: string;
  /** Environment variables (without `$`) the pilot sets to the file name; may be empty. */
  variables: string[];
}

/** Parts of a config that are not token fields but that other commands need. */
export interface TemplateExtras {
  /** `Job` without `variables`: NCPU, queue, wholenode, parameter_step, command (for submission). */
  job?: Record<string, unknown>;
  /** `downloader` (2019 configs): GRID_LRT never put it in the token. */
  downloader?: Record<string, unknown>;
  /** 2017/2018 `Sandbox`/`sandbox`: how GRID_LRT built the tarball that `SBXloc` names. */
  legacySandbox?: Record<string, unknown>;
  /** 2017/2018 `Shell_variables`/`tokvar`: the `tokvar.cfg` that goes into that tarball. */
  tokvar?: Record<string, unknown>;
}

/** What a config gives every token of a set. The creator adds `_id`, `type`, `lock`, `done`. */
export interface TokenTemplate {
  file: string;
  kind: TokenConfigKind;
  fields: Record<string, unknown>;
  attachments: TemplateAttachment[];
  /** `Token.type` of the config: a default for the token type, never copied as a field. */
  type?: string;
  /** `Token._id` of the config (`"targ1_"`): GRID_LRT-era id prefix, left to the creator. */
  idPrefix?: string;
  extras: TemplateExtras;
  warnings: string[];
}

export type JsonRecord = Record<string, unknown>;

export const isRecord = (v: unknown): v is JsonRecord =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const ENV_NAME = /^\$?[A-Za-z_][A-Za-z0-9_]*$/;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

export interface ConfigReadOptions {
  /** Unknown sections and keys are errors (default); false makes them warnings (`--lenient`). */
  strict?: boolean;
}

/** Reads one config: collects warnings and throws E_CONFIG naming the file and the path. */
export class ConfigReader {
  readonly warnings: string[] = [];
  readonly strict: boolean;
  constructor(
    readonly file: string,
    options: ConfigReadOptions = {},
  ) {
    this.strict = options.strict ?? true;
  }

  /**
   * The keys of `section` (at `path`, '' for the top level) that are not in `known`: an error
   * naming the file and the key, with the close known name if there is one; a warning and left
   * out when lenient (`lenient`: what happens to it then; a section is ignored, a key kept as written).
   * Returns the keys that are known.
   */
  onlyKnown(
    section: JsonRecord,
    path: string,
    known: readonly string[],
    lenient: 'ignored' | 'kept as written' = path === '' ? 'ignored' : 'kept as written',
  ): string[] {
    const kind = path === '' ? 'section' : 'key';
    for (const key of Object.keys(section)) {
      if (known.includes(key)) continue;
      const at = path ? `${path}.${key}` : key;
      const guess = closestName(key, known);
      const hint = guess
        ? `did you mean "${path ? `${path}.${guess}` : guess}"?`
        : `known: ${known.join(', ')}`;
      if (!this.strict) {
        this.warn(`unknown ${kind} "${at}" ${lenient} (${hint})`);
        continue;
      }
      throw new LrtError(
        'E_CONFIG',
        `${this.file}: unknown ${kind} "${at}": ${hint} (--lenient ignores it with a warning)`,
        { details: { file: this.file, path: at, ...(guess ? { suggestion: guess } : {}) } },
      );
    }
    return Object.keys(section).filter((key) => known.includes(key));
  }

  fail(path: string, why: string): never {
    throw new LrtError('E_CONFIG', `${this.file}: ${path} ${why}`, { details: { file: this.file, path } });
  }

  warn(message: string): void {
    this.warnings.push(`${this.file}: ${message}`);
  }

  record(value: unknown, path: string): JsonRecord {
    if (!isRecord(value)) this.fail(path, `must be an object, not ${describe(value)}`);
    return value;
  }

  /** A section that may be empty (`git_scripts:` in YAML is null). */
  optionalRecord(value: unknown, path: string): JsonRecord {
    return value === null || value === undefined ? {} : this.record(value, path);
  }

  string(value: unknown, path: string): string {
    if (typeof value !== 'string') this.fail(path, `must be a string, not ${describe(value)}`);
    return value;
  }

  envName(name: string, path: string): string {
    if (!ENV_NAME.test(name)) {
      this.fail(path, `names the variable "${name}", which is not a shell variable name`);
    }
    return name.startsWith('$') ? name.slice(1) : name;
  }

  attachmentName(value: unknown, path: string): string {
    const name = this.string(value, path);
    try {
      assertAttachmentName(name);
    } catch (err) {
      if (isLrtError(err)) this.fail(path, `is an ${err.message}`);
      throw err;
    }
    return name;
  }
}

export function newTemplate(file: string, kind: TokenConfigKind, reader: ConfigReader): TokenTemplate {
  return { file, kind, fields: {}, attachments: [], extras: {}, warnings: reader.warnings };
}

export function addAttachment(template: TokenTemplate, name: string, variable?: string): void {
  let entry = template.attachments.find((a) => a.name === name);
  if (!entry) {
    entry = { name, variables: [] };
    template.attachments.push(entry);
  }
  if (variable !== undefined && !entry.variables.includes(variable)) entry.variables.push(variable);
}

/**
 * GRID_LRT's `create_token` overwrote these with a fresh token's values whatever the config
 * said; a config value other than the fresh one is reported, never copied.
 */
const CREATOR_FIELDS = new Map<string, unknown[]>([
  ['lock', [0]],
  ['done', [0]],
  ['hostname', ['']],
  ['scrub_count', [0]],
  ['output', ['', 0]],
]);

/** Copies a section of token fields, keeping out what the creator or CouchDB owns. */
export function addTokenFields(
  reader: ConfigReader,
  template: TokenTemplate,
  source: JsonRecord,
  path: string,
): void {
  for (const [key, value] of Object.entries(source)) {
    const at = path ? `${path}.${key}` : key;
    if (key === '_id') {
      template.idPrefix = reader.string(value, at);
    } else if (key === 'type') {
      template.type = reader.string(value, at);
    } else if (CREATOR_FIELDS.has(key)) {
      if (!CREATOR_FIELDS.get(key)?.includes(value)) {
        reader.warn(`${at} = ${JSON.stringify(value)} ignored: a new token starts with the creator's ${key}`);
      }
    } else if (key.startsWith('_') || key === '') {
      reader.warn(`${at} ignored: CouchDB reserves field names that are empty or start with '_'`);
    } else {
      if (
        Object.hasOwn(template.fields, key) &&
        JSON.stringify(template.fields[key]) !== JSON.stringify(value)
      ) {
        reader.warn(`${at} replaces the value given earlier for field ${key}`);
      }
      template.fields[key] = structuredClone(value);
    }
  }
}
