import { LrtError } from '../core';

/** A token as the transfer code reads it: plain JSON fields. */
export type TokenFields = Readonly<Record<string, unknown>>;

export const DATE_GRANULARITIES = ['minute', 'hour', 'day', 'week', 'month'] as const;
export type DateGranularity = (typeof DATE_GRANULARITIES)[number];

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** ISO 8601 week number (strftime %V) of a UTC date. */
function isoWeek(date: Date): number {
  const day = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday); // the Thursday of this week decides the year
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  return Math.ceil(((day.getTime() - yearStart) / 86_400_000 + 1) / 7);
}

/**
 * `$DATE` as GRID_PiCaS_Launcher's get_date() writes it: minute `%Y-%m-%d_%H-%M`, hour
 * `%Y-%m-%d_%H-00`, day `%Y-%m-%d`, week `%Y-W%V`, month `%Y-%m`. In UTC (the launcher used the
 * node's local time). Week keeps the launcher's calendar year with the ISO week, so the last days
 * of December can read `2024-W01`, as its names did.
 */
export function formatUploadDate(now: Date, granularity: DateGranularity): string {
  const y = pad(now.getUTCFullYear(), 4);
  const m = pad(now.getUTCMonth() + 1);
  const d = pad(now.getUTCDate());
  const h = pad(now.getUTCHours());
  switch (granularity) {
    case 'minute':
      return `${y}-${m}-${d}_${h}-${pad(now.getUTCMinutes())}`;
    case 'hour':
      return `${y}-${m}-${d}_${h}-00`;
    case 'week':
      return `${y}-W${pad(isoWeek(now))}`;
    case 'month':
      return `${y}-${m}`;
    default:
      return `${y}-${m}-${d}`;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `config.json.variables._token_keys` of a token (`"$NAME": "field"`) as NAME -> field. The
 * config may be stored as a JSON string; anything unreadable counts as no mapping.
 */
export function tokenKeysOf(token: TokenFields): Record<string, string> {
  let config = token['config.json'];
  if (typeof config === 'string') {
    try {
      config = JSON.parse(config);
    } catch {
      return {};
    }
  }
  const keys = isRecord(config) && isRecord(config.variables) ? config.variables._token_keys : undefined;
  const out: Record<string, string> = {};
  if (!isRecord(keys)) return out;
  for (const [name, field] of Object.entries(keys)) {
    if (typeof field === 'string') out[name.replace(/^\$/, '')] = field;
  }
  return out;
}

export interface TemplateContext {
  token: TokenFields;
  /** The value of `$DATE` ('' when the date is not added, as the launcher did). */
  date: string;
  /** NAME -> token field; default the token's `_token_keys`. Names not listed are token fields. */
  tokenKeys?: Readonly<Record<string, string>>;
  /** The token field being expanded, for messages (`upload.template`). */
  field: string;
}

const IDENT_RE = /[A-Za-z_][A-Za-z0-9_]*/y;
const tokenIdOf = (token: TokenFields) => (typeof token._id === 'string' ? token._id : 'the token');

function fieldValue(name: string, ctx: TemplateContext, keys: Readonly<Record<string, string>>): string {
  const field = keys[name] ?? name;
  const via = keys[name] === undefined ? '' : ` (config.json _token_keys maps $${name} to "${field}")`;
  const value = Object.hasOwn(ctx.token, field) ? ctx.token[field] : undefined;
  if (value === undefined || value === null) {
    throw new LrtError(
      'E_CONFIG',
      `${ctx.field}: $${name} needs token field "${field}"${via}, which ${tokenIdOf(ctx.token)} lacks`,
      { details: { field: ctx.field, variable: name, tokenField: field } },
    );
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new LrtError(
    'E_CONFIG',
    `${ctx.field}: $${name} is token field "${field}"${via}, which is not a string or number`,
    { details: { field: ctx.field, variable: name, tokenField: field } },
  );
}

/**
 * Fills `$DATE` and `$NAME` in a template. Names are matched as the launcher replaced them
 * (known names, not shell identifiers): in `CI_$STARTSB_$DATE` the name is STARTSB because a
 * token key or field of that name exists, the longest known name winning. A known name is a
 * `_token_keys` entry or a token field; `$DATE` always wins. An unknown `$NAME` is an E_CONFIG
 * naming the field; a `$` not followed by a name stays as it is.
 */
export function expandTemplate(text: string, ctx: TemplateContext): string {
  const keys = ctx.tokenKeys ?? tokenKeysOf(ctx.token);
  const known = [...new Set(['DATE', ...Object.keys(keys), ...Object.keys(ctx.token)])]
    .filter((name) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    .sort((a, b) => b.length - a.length);
  let out = '';
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf('$', i);
    if (dollar < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, dollar);
    const at = dollar + 1;
    const name = text.startsWith('DATE', at) ? 'DATE' : known.find((n) => text.startsWith(n, at));
    if (name !== undefined) {
      out += name === 'DATE' ? ctx.date : fieldValue(name, ctx, keys);
      i = at + name.length;
      continue;
    }
    IDENT_RE.lastIndex = at;
    const ident = IDENT_RE.exec(text)?.[0];
    if (ident !== undefined) {
      throw new LrtError(
        'E_CONFIG',
        `${ctx.field} "${text}": $${ident} names no token field (nor a config.json _token_keys entry)`,
        { details: { field: ctx.field, variable: ident } },
      );
    }
    out += '$';
    i = at;
  }
  return out;
}
