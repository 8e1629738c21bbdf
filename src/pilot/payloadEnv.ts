import type { PicasSettings } from '../picas/connectionSettings';
import {
  type AttachmentMapping,
  parseTokvar,
  type TokenKeyMapping,
  type VariableMap,
  variablesFromConfig,
} from './variableMap';

export type { AttachmentMapping, TokenKeyMapping, VariableMap, VariableSource } from './variableMap';
export { parseTokvar, variablesFromConfig } from './variableMap';

/** The PiCaS credential variables: exported to the payload only on request. */
export const CREDENTIAL_ENV_NAMES = ['PICAS_USR', 'PICAS_USR_PWD', 'PICAS_DB', 'PICAS_URL'] as const;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface PayloadEnvInput {
  /** The claimed token document (its `_attachments` stubs say which attachments exist). */
  token: { _id: string; _attachments?: Record<string, unknown>; [field: string]: unknown };
  jobDir: string;
  /** Absolute path the payload writes its status lines to ($PILOT_STATUS_FILE). */
  statusFile: string;
  /** What the caller lets through from the pilot's own environment. */
  baseEnv?: Record<string, string | undefined>;
  /** Text of the sandbox's legacy `tokvar.cfg`, when it has one. */
  tokvar?: string;
  exportCredentials?: boolean;
  picas?: PicasSettings;
  /** Files in the job dir an attachment must not overwrite (master.sh, the log files ...). */
  reservedFileNames?: readonly string[];
}

export interface AttachmentFile {
  /** Attachment name in the token. */
  attachment: string;
  /** File name in the job dir (bytes written verbatim by the caller). */
  fileName: string;
}

export interface PayloadEnv {
  env: Record<string, string>;
  files: AttachmentFile[];
  warnings: string[];
  /** Token fields the config asks for that the token lacks; missing attachments as `_attachments/<name>`. */
  missing: string[];
}

/** A token value as the payload sees it: strings verbatim, objects as JSON, null as empty. */
export function envValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** True for a name a file in the job dir may have: one path component, not `.`/`..`. */
export function isSafeFileName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}

/**
 * Builds the payload's environment and the attachments to write, from the token, its
 * `config.json.variables` and the sandbox's legacy `tokvar.cfg`. Pure: the caller writes the
 * files and decides what a non-empty `missing` means (LOFAR: exit -2).
 */
export function buildPayloadEnv(input: PayloadEnvInput): PayloadEnv {
  const { token } = input;
  const warnings: string[] = [];
  const missing: string[] = [];
  const files: AttachmentFile[] = [];

  const fixed: Record<string, string> = {
    TOKEN: token._id,
    JOBDIR: input.jobDir,
    PILOT_STATUS_FILE: input.statusFile,
    ...leaseEnv(token.lease),
  };
  const credentials = credentialEnv(input, warnings);
  const reservedNames = new Set<string>([...Object.keys(fixed), ...CREDENTIAL_ENV_NAMES]);
  const reservedFiles = new Set(input.reservedFileNames ?? []);

  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.baseEnv ?? {})) {
    if (value === undefined || (CREDENTIAL_ENV_NAMES as readonly string[]).includes(name)) continue;
    env[name] = value;
  }

  const mapped = new Map<string, { value: string; from: string }>();
  const assign = (name: string, value: string, from: string) => {
    if (!ENV_NAME.test(name)) {
      warnings.push(`${from}: "${name}" is not a valid environment variable name: skipped`);
      return;
    }
    if (reservedNames.has(name)) {
      // `_id: $TOKEN` (legacy tokvar) asks for what the pilot sets anyway: nothing to say.
      if (fixed[name] !== value) warnings.push(`${from}: ${name} is set by the pilot: mapping skipped`);
      return;
    }
    if (value.includes('\0')) {
      warnings.push(`${from}: the value for ${name} holds a NUL byte: skipped`);
      return;
    }
    const earlier = mapped.get(name);
    if (earlier && earlier.value !== value) {
      warnings.push(`${from}: ${name} was already set by ${earlier.from}; the later mapping wins`);
    }
    mapped.set(name, { value, from });
  };

  const maps: VariableMap[] = [];
  if (input.tokvar !== undefined) maps.push(parseTokvar(input.tokvar));
  maps.push(variablesFromConfig(token['config.json']));
  for (const map of maps) {
    warnings.push(...map.warnings);
    for (const key of map.tokenKeys) exportTokenKey(key, token, assign, warnings, missing);
    for (const att of map.attachments) {
      exportAttachment(att, token, reservedFiles, files, assign, warnings, missing);
    }
  }

  const mapsAnything = maps.some((m) => m.tokenKeys.length > 0 || m.attachments.length > 0);
  if (!mapsAnything) exportPlainFields(token, assign);

  for (const [name, { value }] of mapped) env[name] = value;
  Object.assign(env, fixed, credentials);
  return { env, files, warnings, missing };
}

type Assign = (name: string, value: string, from: string) => void;

/** Fields the protocol owns: never exported as payload variables. */
const PROTOCOL_FIELDS = new Set(
  'type lock done status lease attempts times error output exit_code scrub_count hostname progress launcher_status bytes_moved timeout_s lease_s stage_in stage_out upload SBXloc'.split(
    ' ',
  ),
);

/**
 * A token without any variable mapping (made by `lrt tokens create` without a config, or by
 * picasclient) still gives its payload its own scalar fields, e.g. OBSID and STARTSB.
 */
function exportPlainFields(token: PayloadEnvInput['token'], assign: Assign) {
  for (const [field, value] of Object.entries(token)) {
    if (field.startsWith('_') || PROTOCOL_FIELDS.has(field) || !ENV_NAME.test(field)) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      assign(field, envValue(value), 'token field');
    }
  }
}

function exportTokenKey(
  key: TokenKeyMapping,
  token: PayloadEnvInput['token'],
  assign: Assign,
  warnings: string[],
  missing: string[],
) {
  const from = `${key.source} $${key.env}`;
  if (!Object.hasOwn(token, key.field) || token[key.field] === undefined) {
    warnings.push(`${from}: token ${token._id} has no field "${key.field}": ${key.env} not set`);
    if (!missing.includes(key.field)) missing.push(key.field);
    return;
  }
  assign(key.env, envValue(token[key.field]), from);
}

function exportAttachment(
  att: AttachmentMapping,
  token: PayloadEnvInput['token'],
  reservedFiles: Set<string>,
  files: AttachmentFile[],
  assign: Assign,
  warnings: string[],
  missing: string[],
) {
  const from = `${att.source} attachment "${att.attachment}"`;
  if (!isSafeFileName(att.attachment)) {
    warnings.push(`${from}: not a safe file name (empty, "." or "..", or holds "/"): skipped`);
    return;
  }
  if (reservedFiles.has(att.attachment)) {
    warnings.push(`${from}: would overwrite the pilot's own file in the job dir: skipped`);
    return;
  }
  if (token._attachments?.[att.attachment] === undefined) {
    warnings.push(
      `${from}: token ${token._id} has no such attachment${att.env ? `: ${att.env} not set` : ''}`,
    );
    const key = `_attachments/${att.attachment}`;
    if (!missing.includes(key)) missing.push(key);
    return;
  }
  if (!files.some((f) => f.attachment === att.attachment)) {
    files.push({ attachment: att.attachment, fileName: att.attachment });
  }
  if (att.env !== undefined) assign(att.env, att.attachment, from);
}

/**
 * The claim this run belongs to: a payload with side effects outside the token (its own uploads,
 * a ledger) can name them per lease, so a duplicate run after a lost lease is told apart.
 */
function leaseEnv(lease: unknown): Record<string, string> {
  const { id, attempt } = (lease ?? {}) as { id?: unknown; attempt?: unknown };
  if (typeof id !== 'string') return {};
  return { PILOT_LEASE_ID: id, ...(typeof attempt === 'number' ? { PILOT_ATTEMPT: String(attempt) } : {}) };
}

function credentialEnv(input: PayloadEnvInput, warnings: string[]): Record<string, string> {
  if (!input.exportCredentials) return {};
  const picas = input.picas;
  if (!picas) {
    warnings.push('--export-credentials: no PiCaS settings were given, nothing exported');
    return {};
  }
  const out: Record<string, string> = { PICAS_URL: picas.url, PICAS_DB: picas.database };
  if (picas.user !== undefined) out.PICAS_USR = picas.user;
  if (picas.password !== undefined) out.PICAS_USR_PWD = picas.password;
  return out;
}
