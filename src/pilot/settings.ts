import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LrtError } from '../core';
import { type PicasSettings, parsePicasrc, resolvePicasSettings } from '../picas/connectionSettings';
import { cacheDirIn } from '../sandbox/cache';
import type { TransferOptions } from '../transfer';
import { DEFAULT_SHUB_MIRROR } from './containerSpec';
import { DEFAULT_SANDBOX_BASE } from './sandboxSource';

/** Everything the pilot needs, parsed and validated once at the edge. */
export interface PilotSettings {
  picas: PicasSettings;
  type: string;
  view: string;
  leaseSeconds: number;
  maxAttempts: number;
  maxTokens: number | undefined;
  maxTimeSeconds: number | undefined;
  wait: boolean;
  pollSeconds: number;
  workDir: string;
  cacheDir: string;
  keepJobDir: boolean;
  keepFailed: boolean;
  tokenTimeoutSeconds: number | undefined;
  /** Epoch ms when the batch job is killed, when known. */
  walltimeEnd: number | undefined;
  minRemainingSeconds: number;
  graceSeconds: number;
  /** Base URL for relative `SBXloc` values. */
  sandboxBase: string;
  /** Base URL of the Singularity Hub mirror for `shub://` container images. */
  shubMirror: string;
  /** How long a database outage is waited out before the pilot gives up. */
  dbWaitSeconds: number;
  /** Grid credentials and tools for stage-in/out and gsiftp sandboxes, from the environment. */
  transfer: TransferOptions;
  /** Ask gfal whether srm:// inputs are on disk before downloading them (`auto`: when gfal is there). */
  localityCheck: 'auto' | 'off';
  exportCredentials: boolean;
  tokenId: string | undefined;
  dryRun: boolean;
  logFile: string | undefined;
  /** Undefined: pretty on a terminal, JSON elsewhere (files, batch job logs). */
  logFormat: 'pretty' | 'json' | undefined;
  logLevel: string;
  json: boolean;
  /** `--check`: run the preflight checks and exit. */
  check: boolean;
  warnings: string[];
}

function logFormatOf(value: string | undefined): 'pretty' | 'json' | undefined {
  if (value === undefined || value === 'pretty' || value === 'json') return value;
  throw new LrtError('E_USAGE', `--log-format must be pretty or json, got "${value}"`);
}

export const PILOT_OPTIONS = {
  url: { type: 'string', value: 'URL', help: 'CouchDB URL, may carry user:password (default PICAS_URL)' },
  db: { type: 'string', value: 'NAME', help: 'PiCaS database (default PICAS_DB)' },
  cluster: {
    type: 'string',
    value: 'auto|on|off',
    help: 'CouchDB cluster rules: w=n writes, 202s settled (default auto: on when the database reports n > 1; PICAS_CLUSTER)',
  },
  type: { type: 'string', value: 'TYPE', help: 'token type to process (default PICAS_TYPE)' },
  view: {
    type: 'string',
    value: 'VIEW',
    help: 'view to claim from (default todo; a custom view is read from _design/views:<type>)',
  },
  credentials: {
    type: 'string',
    value: 'FILE',
    help: 'credentials file (mode 0600): user=, password= (and url=, database=) lines',
  },
  lease: {
    type: 'string',
    value: 'S',
    help: 'lease length in seconds (default 600; token lease_s overrides)',
  },
  'max-attempts': {
    type: 'string',
    value: 'N',
    help: 'attempts before an expired token goes to error (default 3)',
  },
  'max-tokens': { type: 'string', value: 'N', help: 'stop after N tokens' },
  'max-time': { type: 'string', value: 'S', help: 'claim no new token after S seconds' },
  wait: { type: 'boolean', help: 'keep polling for new work when the view is empty' },
  poll: { type: 'string', value: 'S', help: 'seconds between polls with --wait (default 30)' },
  workdir: { type: 'string', value: 'DIR', help: 'where job dirs are made (default $TMPDIR or .)' },
  cache: {
    type: 'string',
    value: 'DIR',
    help: 'node sandbox cache shared by pilots (default WORKDIR/.lrt-cache; lrt cache list|clean)',
  },
  'keep-jobdir': { type: 'boolean', help: 'keep every job dir' },
  'keep-failed': { type: 'boolean', help: 'keep the job dir of failed tokens' },
  'token-timeout': { type: 'string', value: 'S', help: 'payload time limit (token timeout_s overrides)' },
  walltime: {
    type: 'string',
    value: 'S',
    help: 'seconds this job may run in all (default: from the batch system)',
  },
  'min-remaining': {
    type: 'string',
    value: 'S',
    help: 'claim nothing when less walltime remains (default 300)',
  },
  grace: { type: 'string', value: 'S', help: 'seconds between TERM and KILL of a payload (default 30)' },
  'sandbox-base': {
    type: 'string',
    value: 'URL',
    help: 'base URL of relative SBXloc sandboxes (default the SKSP sandbox area at SURF)',
  },
  'shub-mirror': {
    type: 'string',
    value: 'URL',
    help: 'mirror of shub:// container images (default the LOFAR WebDAV shub mirror at SURF)',
  },
  'locality-check': {
    type: 'string',
    value: 'auto|off',
    help: 'ask gfal if srm:// inputs are on disk first; NEARLINE gives the token back (default auto)',
  },
  'db-wait': {
    type: 'string',
    value: 'S',
    help: 'wait out a database outage this long (default 900); a view index being built is waited for as long as it takes',
  },
  'export-credentials': { type: 'boolean', help: 'pass PICAS_* credentials to master.sh (off by default)' },
  token: { type: 'string', value: 'ID', help: 'process this one token (with --dry-run: debug locally)' },
  'dry-run': {
    type: 'boolean',
    help: 'with --token: run without claiming or writing, print what would be written',
  },
  log: { type: 'string', value: 'FILE', help: 'append the log to FILE (default: stderr)' },
  'log-format': {
    type: 'string',
    value: 'pretty|json',
    help: 'log lines readable (pretty) or one JSON object each (default: pretty on a terminal, else json)',
  },
  'log-level': { type: 'string', value: 'LEVEL', help: 'trace|debug|info|warn|error (default info)' },
  json: { type: 'boolean', help: 'print the final summary as JSON on stdout' },
  check: {
    type: 'boolean',
    help: 'preflight only: database, views, tools, proxy lifetime vs --walltime, disk, sandbox; claims nothing',
  },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const satisfies Record<
  string,
  { type: 'string' | 'boolean'; help: string; value?: string; short?: string }
>;

export interface PilotSettingsSources {
  argv: string[];
  env: Record<string, string | undefined>;
  home: string;
  cwd: string;
  now: number;
  /** Reads a file; injected so tests can exercise the 0600 check on real files. */
  readCredentialsFile?: (path: string) => { text: string; mode: number };
}

function seconds(raw: string | undefined, name: string, fallback: number | undefined, min = 0) {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) {
    throw new LrtError('E_USAGE', `--${name} must be a number of seconds >= ${min}, got "${raw}"`);
  }
  return value;
}

function wholeNumber(raw: string | undefined, name: string, fallback: number | undefined) {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new LrtError('E_USAGE', `--${name} must be a whole number >= 1, got "${raw}"`);
  }
  return value;
}

function defaultReadCredentials(path: string) {
  return { text: readFileSync(path, 'utf8'), mode: statSync(path).mode };
}

/** Epoch ms of the batch job's end from what the batch system exports, when it does. */
export function walltimeEndFromEnv(env: Record<string, string | undefined>): number | undefined {
  const end = env.SLURM_JOB_END_TIME ?? env.LRT_WALLTIME_END;
  if (end && /^\d+$/.test(end)) return Number(end) * 1000;
  return undefined;
}

/** The grid credentials a worker node exports, as the movers take them (they never read env). */
export function transferOptionsFromEnv(env: Record<string, string | undefined>): TransferOptions {
  const options: TransferOptions = {};
  if (env.X509_USER_PROXY) options.proxy = env.X509_USER_PROXY;
  if (env.X509_CERT_DIR) options.certDir = env.X509_CERT_DIR;
  if (env.BEARER_TOKEN) options.bearerToken = env.BEARER_TOKEN;
  if (env.GFAL_PYTHONBIN) options.gfalPython = env.GFAL_PYTHONBIN;
  if (env.LRT_GSIFTP_DOORS) options.gsiftpDoors = parseDoors(env.LRT_GSIFTP_DOORS);
  return options;
}

/** `LRT_GSIFTP_DOORS=sara=gsiftp://door:2811/prefix,juelich=...`: the GridFTP door per LTA site. */
export function parseDoors(text: string): Record<string, string> {
  const doors: Record<string, string> = {};
  for (const item of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = item.indexOf('=');
    const site = item.slice(0, eq);
    const door = item.slice(eq + 1);
    if (eq <= 0 || !/^gsiftp:\/\/[^/]+/.test(door)) {
      throw new LrtError('E_USAGE', `LRT_GSIFTP_DOORS: "${item}" is not SITE=gsiftp://host:port[/prefix]`);
    }
    doors[site] = door;
  }
  return doors;
}

function localityCheckOf(raw: string | undefined): 'auto' | 'off' {
  if (raw === undefined || raw === 'auto') return 'auto';
  if (raw === 'off') return 'off';
  throw new LrtError('E_USAGE', `--locality-check must be auto or off, got "${raw}"`);
}

export function parsePilotSettings(sources: PilotSettingsSources): PilotSettings | { help: true } {
  const warnings: string[] = [];
  // LOFAR's old JDLs run `pilot.js DB USER PWD TYPE`: taken verbatim before option parsing, so a
  // password that starts with '-' is not read as an option. Accepted, with a warning.
  const looksLegacy =
    sources.argv.length >= 4 &&
    sources.argv.slice(0, 2).every((a) => !a.startsWith('-')) &&
    !sources.argv[3]!.startsWith('-');
  const legacyArgs = looksLegacy ? sources.argv.slice(0, 4) : [];
  const optionArgs = looksLegacy ? sources.argv.slice(4) : sources.argv;
  let parsed: ReturnType<typeof parseArgs<{ options: typeof PILOT_OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: optionArgs, options: PILOT_OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new LrtError('E_USAGE', `${(err as Error).message}\nRun 'pilot --help'.`);
  }
  const v = parsed.values;
  if (v.help) return { help: true };

  let legacy: { database: string; user: string; password: string; type: string } | undefined;
  if (looksLegacy) {
    const [database, user, password, type] = legacyArgs as [string, string, string, string];
    legacy = { database, user, password, type };
    warnings.push(
      'the password was given on the command line (pilot.js DB USER PWD TYPE): it is visible in the process list; use PICAS_USR_PWD or --credentials FILE',
    );
  }
  if (parsed.positionals.length > 0) {
    throw new LrtError(
      'E_USAGE',
      `unexpected arguments "${parsed.positionals.join(' ')}": use options, or the legacy form DB USER PWD TYPE`,
    );
  }

  let fileCredentials: Record<string, string> = {};
  if (v.credentials) {
    const read = (sources.readCredentialsFile ?? defaultReadCredentials)(v.credentials);
    if ((read.mode & 0o077) !== 0) {
      throw new LrtError(
        'E_CONFIG',
        `credentials file ${v.credentials} is readable by others (mode ${(read.mode & 0o777).toString(8)}): chmod 600 it`,
      );
    }
    fileCredentials = parsePicasrc(read.text);
  }
  let picasrc: string | undefined;
  try {
    picasrc = readFileSync(join(sources.home, '.picasrc'), 'utf8');
  } catch {
    picasrc = undefined;
  }

  const picas = resolvePicasSettings({
    flags: {
      url: v.url ?? fileCredentials.url,
      database: v.db ?? legacy?.database ?? fileCredentials.database,
      user: legacy?.user ?? fileCredentials.user,
      password: legacy?.password ?? fileCredentials.password,
      cluster: v.cluster,
    },
    env: sources.env,
    picasrc,
  });

  const type = v.type ?? legacy?.type ?? sources.env.PICAS_TYPE;
  if (!type) throw new LrtError('E_USAGE', 'no token type: pass --type TYPE (or set PICAS_TYPE)');
  if (v['dry-run'] && !v.token) throw new LrtError('E_USAGE', '--dry-run needs --token ID');

  const workDir = v.workdir ?? sources.env.TMPDIR ?? sources.cwd;
  const walltime = seconds(v.walltime, 'walltime', undefined, 1);
  return {
    picas,
    type,
    view: v.view ?? 'todo',
    leaseSeconds: seconds(v.lease, 'lease', 600, 3)!,
    maxAttempts: wholeNumber(v['max-attempts'], 'max-attempts', 3)!,
    maxTokens: wholeNumber(v['max-tokens'], 'max-tokens', undefined),
    maxTimeSeconds: seconds(v['max-time'], 'max-time', undefined),
    wait: v.wait ?? false,
    pollSeconds: seconds(v.poll, 'poll', 30, 0.1)!,
    workDir,
    cacheDir: v.cache ?? cacheDirIn(workDir),
    keepJobDir: v['keep-jobdir'] ?? false,
    keepFailed: v['keep-failed'] ?? false,
    tokenTimeoutSeconds: seconds(v['token-timeout'], 'token-timeout', undefined, 1),
    walltimeEnd: walltime !== undefined ? sources.now + walltime * 1000 : walltimeEndFromEnv(sources.env),
    minRemainingSeconds: seconds(v['min-remaining'], 'min-remaining', 300)!,
    graceSeconds: seconds(v.grace, 'grace', 30)!,
    sandboxBase: v['sandbox-base'] ?? DEFAULT_SANDBOX_BASE,
    shubMirror: v['shub-mirror'] ?? DEFAULT_SHUB_MIRROR,
    dbWaitSeconds: seconds(v['db-wait'], 'db-wait', 900)!,
    transfer: transferOptionsFromEnv(sources.env),
    localityCheck: localityCheckOf(v['locality-check']),
    exportCredentials: v['export-credentials'] ?? false,
    tokenId: v.token,
    dryRun: v['dry-run'] ?? false,
    logFile: v.log,
    logFormat: logFormatOf(v['log-format']),
    logLevel: v['log-level'] ?? 'info',
    json: v.json ?? false,
    check: v.check ?? false,
    warnings,
  };
}
