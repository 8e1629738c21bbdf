import { LrtError } from '../core';
import { normalizeAdler32 } from './adler32';
import {
  DATE_GRANULARITIES,
  type DateGranularity,
  expandTemplate,
  formatUploadDate,
  type TokenFields,
} from './uploadTemplate';

/*
 * What a token asks the pilot to move (docs/token-format.md), parsed and validated before anything runs:
 * | field                 | shape                                                                  |
 * |-----------------------|------------------------------------------------------------------------|
 * | stage_in: true        | the URLs of the token's srm.txt into Input/                            |
 * | stage_in: {...}       | {from: "srm.txt" (a list file in the job dir) or [URL...], extract,    |
 * |                       |  concurrency, retries, checksums: {name or URL: adler32}}              |
 * | stage_out: {files}    | {files: [{from: job-dir path, to: URL}], overwrite}                    |
 * | stage_out: {dir, to}  | every file under the job-dir folder `dir` to `to/<relative path>`      |
 * | stage_out: true       | the token's LOFAR `upload` rules, done by the pilot                    |
 * | stage_out absent/false| nothing: the payload moves its data (LOFAR master.sh calls its own     |
 * |                       |   upload_results, which reads `upload`)                                |
 * | upload                | {location, template, add_date, date_granularity, gzip, overwrite}      |
 * `to`, `location` and `template` may hold `$DATE` and `$NAME` (token keys / fields).
 */

export const DEFAULT_STAGE_IN_CONCURRENCY = 4;
export const DEFAULT_STAGE_IN_RETRIES = 3;
export const DEFAULT_SRM_LIST = 'srm.txt';

export interface StageInSpec {
  /** A list file in the job dir (one URL a line; a token attachment) or the URLs themselves. */
  from: string | string[];
  extract: boolean;
  concurrency: number;
  retries: number;
  /** Expected adler32 (8 hex digits) by file name or URL. */
  checksums: Record<string, string>;
}

export interface UploadSpec {
  location: string;
  template: string;
  addDate: boolean;
  dateGranularity: DateGranularity;
  gzip: boolean;
  overwrite: boolean;
}

export interface StageOutFile {
  /** Relative to the job dir. */
  from: string;
  to: string;
}

export type StageOutPlan =
  | { kind: 'upload'; upload: UploadSpec }
  | { kind: 'files'; files: StageOutFile[]; overwrite: boolean }
  | { kind: 'dir'; dir: string; to: string; overwrite: boolean };

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function bad(field: string, why: string): LrtError {
  return new LrtError('E_CONFIG', `token field ${field} ${why}`, { details: { field } });
}

function onlyKeys(value: Record<string, unknown>, field: string, allowed: readonly string[]): void {
  const extra = Object.keys(value).filter((k) => !allowed.includes(k));
  if (extra.length > 0)
    throw bad(field, `has unknown key(s) ${extra.join(', ')} (known: ${allowed.join(', ')})`);
}

function bool(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw bad(field, 'must be true or false');
  return value;
}

function int(value: unknown, field: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw bad(field, `must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw bad(field, 'must be a non-empty string');
  return value.trim();
}

/** A path inside the job dir: relative, no `..`, no empty or `.` segments. */
export function jobRelativePath(value: unknown, field: string): string {
  const path = text(value, field);
  const parts = path.split('/');
  if (path.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..') || path.includes('\0')) {
    throw bad(field, `"${path}" must be a path inside the job dir (relative, no "..")`);
  }
  return path;
}

function checksums(value: unknown, field: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isRecord(value)) throw bad(field, 'must be an object {file name or URL: adler32}');
  const out: Record<string, string> = {};
  for (const [key, sum] of Object.entries(value)) {
    const normal = typeof sum === 'string' ? normalizeAdler32(sum) : undefined;
    if (!normal)
      throw bad(`${field}["${key}"]`, `must be an adler32 (up to 8 hex digits), got ${JSON.stringify(sum)}`);
    out[key] = normal;
  }
  return out;
}

/** The token's `stage_in`, or undefined when the pilot is not asked to stage anything in. */
export function parseStageIn(token: TokenFields): StageInSpec | undefined {
  const raw = token.stage_in;
  const defaults = {
    extract: false,
    concurrency: DEFAULT_STAGE_IN_CONCURRENCY,
    retries: DEFAULT_STAGE_IN_RETRIES,
    checksums: {},
  };
  if (raw === undefined || raw === null || raw === false) return undefined;
  if (raw === true) return { from: DEFAULT_SRM_LIST, ...defaults };
  if (!isRecord(raw))
    throw bad('stage_in', 'must be true or an object {from, extract, concurrency, retries, checksums}');
  onlyKeys(raw, 'stage_in', ['from', 'extract', 'concurrency', 'retries', 'checksums']);
  let from: string | string[] = DEFAULT_SRM_LIST;
  if (Array.isArray(raw.from)) {
    if (raw.from.length === 0) throw bad('stage_in.from', 'is an empty list');
    from = raw.from.map((url, i) => text(url, `stage_in.from[${i}]`));
  } else if (raw.from !== undefined) {
    from = text(raw.from, 'stage_in.from');
    if (from.includes('/') || from === '.' || from === '..') {
      throw bad(
        'stage_in.from',
        `"${from}" must name a file of the job dir (an attachment) or be a list of URLs`,
      );
    }
  }
  return {
    from,
    extract: bool(raw.extract, 'stage_in.extract', false),
    concurrency: int(raw.concurrency, 'stage_in.concurrency', DEFAULT_STAGE_IN_CONCURRENCY, 1, 64),
    retries: int(raw.retries, 'stage_in.retries', DEFAULT_STAGE_IN_RETRIES, 0, 20),
    checksums: checksums(raw.checksums, 'stage_in.checksums'),
  };
}

/** LOFAR's `upload` field; `field` names it in messages. */
export function parseUpload(raw: unknown, field = 'upload'): UploadSpec {
  if (!isRecord(raw))
    throw bad(field, 'must be an object {location, template, add_date, date_granularity, gzip, overwrite}');
  const granularity = raw.date_granularity ?? 'day';
  if (typeof granularity !== 'string' || !(DATE_GRANULARITIES as readonly string[]).includes(granularity)) {
    throw bad(
      `${field}.date_granularity`,
      `must be one of ${DATE_GRANULARITIES.join(', ')}, got ${JSON.stringify(granularity)}`,
    );
  }
  if (raw.location !== undefined && typeof raw.location !== 'string')
    throw bad(`${field}.location`, 'must be a string');
  return {
    location: (raw.location ?? '').trim(),
    template: text(raw.template, `${field}.template`),
    addDate: bool(raw.add_date, `${field}.add_date`, false),
    dateGranularity: granularity as DateGranularity,
    gzip: bool(raw.gzip, `${field}.gzip`, false),
    overwrite: bool(raw.overwrite, `${field}.overwrite`, false),
  };
}

function parseFiles(raw: unknown): StageOutFile[] {
  if (!Array.isArray(raw) || raw.length === 0)
    throw bad('stage_out.files', 'must be a non-empty list of {from, to}');
  return raw.map((entry, i) => {
    const at = `stage_out.files[${i}]`;
    if (!isRecord(entry)) throw bad(at, 'must be an object {from, to}');
    onlyKeys(entry, at, ['from', 'to']);
    return { from: jobRelativePath(entry.from, `${at}.from`), to: text(entry.to, `${at}.to`) };
  });
}

/**
 * What the pilot uploads after the payload: `stage_out` when the token has one (`true`: the LOFAR
 * `upload` rules), else nothing. `upload` alone does not make the pilot upload: LOFAR sandboxes
 * upload themselves from master.sh, and a second upload would hit the overwrite check.
 */
export function planStageOut(token: TokenFields): StageOutPlan | undefined {
  const raw = token.stage_out;
  if (raw === undefined || raw === null || raw === false) return undefined;
  if (raw === true) {
    if (token.upload === undefined || token.upload === null) {
      throw bad('stage_out', 'is true but the token has no upload field to follow');
    }
    return { kind: 'upload', upload: parseUpload(token.upload) };
  }
  if (!isRecord(raw)) throw bad('stage_out', 'must be true, false or an object {files} / {dir, to}');
  const overwrite = bool(raw.overwrite, 'stage_out.overwrite', false);
  if (raw.files !== undefined) {
    onlyKeys(raw, 'stage_out', ['files', 'overwrite']);
    return { kind: 'files', files: parseFiles(raw.files), overwrite };
  }
  if (raw.dir !== undefined || raw.to !== undefined) {
    onlyKeys(raw, 'stage_out', ['dir', 'to', 'overwrite']);
    return {
      kind: 'dir',
      dir: jobRelativePath(raw.dir, 'stage_out.dir'),
      to: text(raw.to, 'stage_out.to'),
      overwrite,
    };
  }
  throw bad('stage_out', 'needs either files: [{from, to}] or dir and to');
}

export interface UploadDestination {
  /** Where the tarball goes: `location/template` + `.tar` or `.tar.gz`. */
  url: string;
  /** The last path segment of `url`: the tarball's file name. */
  name: string;
}

/** A URL or absolute path whose path has no `..` segment; `field` names the source in messages. */
export function checkDestination(url: string, field: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !url.startsWith('/')) {
    throw bad(
      field,
      `expands to "${url}", which is not a URL (gsiftp://, srm://, https://, file://) or absolute path`,
    );
  }
  const path = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '').split(/[?#]/)[0] ?? '';
  if (path.split('/').some((p) => p === '..' || p === '.')) {
    throw bad(field, `expands to "${url}", whose path holds "." or ".." segments`);
  }
  return url;
}

/**
 * The upload target as GRID_PiCaS_Launcher named it: `<location>/<template>` (the template alone
 * when location is empty), `$DATE` and `$NAME` filled, `.tar` or `.tar.gz` appended.
 */
export function uploadDestination(
  upload: UploadSpec,
  token: TokenFields,
  now: Date,
  tokenKeys?: Readonly<Record<string, string>>,
): UploadDestination {
  const date = upload.addDate ? formatUploadDate(now, upload.dateGranularity) : '';
  const ctx = (field: string) => ({ token, date, field, ...(tokenKeys ? { tokenKeys } : {}) });
  const location = expandTemplate(upload.location, ctx('upload.location')).replace(/\/+$/, '');
  const name = expandTemplate(upload.template, ctx('upload.template')).replace(/^\/+/, '');
  const suffix = upload.gzip ? '.tar.gz' : '.tar';
  const url = checkDestination(
    location === '' ? `${name}${suffix}` : `${location}/${name}${suffix}`,
    'upload',
  );
  return { url, name: url.slice(url.lastIndexOf('/') + 1) };
}

/** `stage_out` targets with `$DATE` (day) and `$NAME` filled; `field` names the entry. */
export function expandStageOutTarget(
  to: string,
  token: TokenFields,
  now: Date,
  field: string,
  tokenKeys?: Readonly<Record<string, string>>,
): string {
  const date = formatUploadDate(now, 'day');
  return checkDestination(
    expandTemplate(to, { token, date, field, ...(tokenKeys ? { tokenKeys } : {}) }),
    field,
  );
}
