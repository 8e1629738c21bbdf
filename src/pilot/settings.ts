import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defineOptions, optionValues, parseArgsConfig, type RawValues } from '../cli/options';
import { choiceOf, fileProblem, LrtError } from '../core';
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

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;

export const PILOT_OPTIONS = defineOptions({
  url: {
    type: 'string',
    value: 'URL',
    description: 'CouchDB URL, may carry user:password (default PICAS_URL)',
  },
  db: { type: 'string', value: 'NAME', description: 'PiCaS database (default PICAS_DB)' },
  cluster: {
    type: 'string',
    value: 'auto|on|off',
    description:
      'CouchDB cluster rules: w=n writes, 202s settled (default auto: on when the database reports n > 1; PICAS_CLUSTER)',
  },
  type: { type: 'string', value: 'TYPE', description: 'token type to process (default PICAS_TYPE)' },
  view: {
    type: 'string',
    value: 'VIEW',
    description: 'view to claim from (default todo; a custom view is read from _design/views:<type>)',
  },
  credentials: {
    type: 'string',
    value: 'FILE',
    description: 'credentials file (mode 0600): user=, password= (and url=, database=) lines',
  },
  lease: {
    type: 'seconds',
    min: 3,
    default: 600,
    value: 'S',
    description: 'lease length in seconds (default 600; token lease_s overrides)',
  },
  'max-attempts': {
    type: 'integer',
    default: 3,
    value: 'N',
    description: 'attempts before an expired token goes to error (default 3)',
  },
  'max-tokens': { type: 'integer', value: 'N', description: 'stop after N tokens' },
  'max-time': { type: 'seconds', min: 0, value: 'S', description: 'claim no new token after S seconds' },
  wait: { type: 'boolean', description: 'keep polling for new work when the view is empty' },
  poll: {
    type: 'seconds',
    min: 0.1,
    default: 30,
    value: 'S',
    description: 'seconds between polls with --wait (default 30)',
  },
  workdir: { type: 'string', value: 'DIR', description: 'where job dirs are made (default $TMPDIR or .)' },
  cache: {
    type: 'string',
    value: 'DIR',
    description: 'node sandbox cache shared by pilots (default WORKDIR/.lrt-cache; lrt cache list|clean)',
  },
  'keep-jobdir': { type: 'boolean', description: 'keep every job dir' },
  'keep-failed': { type: 'boolean', description: 'keep the job dir of failed tokens' },
  'token-timeout': {
    type: 'seconds',
    min: 1,
    value: 'S',
    description: 'payload time limit (token timeout_s overrides)',
  },
  walltime: {
    type: 'seconds',
    min: 1,
    value: 'S',
    description: 'seconds this job may run in all (default: from the batch system)',
  },
  'min-remaining': {
    type: 'seconds',
    min: 0,
    default: 300,
    value: 'S',
    description: 'claim nothing when less walltime remains (default 300)',
  },
  grace: {
    type: 'seconds',
    min: 0,
    default: 30,
    value: 'S',
    description: 'seconds between TERM and KILL of a payload (default 30)',
  },
  'sandbox-base': {
    type: 'string',
    value: 'URL',
    description: 'base URL of relative SBXloc sandboxes (default the SKSP sandbox area at SURF)',
  },
  'shub-mirror': {
    type: 'string',
    value: 'URL',
    description: 'mirror of shub:// container images (default the LOFAR WebDAV shub mirror at SURF)',
  },
  'locality-check': {
    type: 'string',
    value: 'auto|off',
    description: 'ask gfal if srm:// inputs are on disk first; NEARLINE gives the token back (default auto)',
  },
  'db-wait': {
    type: 'seconds',
    min: 0,
    default: 900,
    value: 'S',
    description:
      'wait out a database outage this long (default 900); a view index being built is waited for as long as it takes',
  },
  'export-credentials': {
    type: 'boolean',
    description: 'pass PICAS_* credentials to master.sh (off by default)',
  },
  token: {
    type: 'string',
    value: 'ID',
    description: 'process this one token (with --dry-run: debug locally)',
  },
  'dry-run': {
    type: 'boolean',
    description:
      'with --token: run without claiming or writing (no token write, no upload of results), print what would be written (notClaimable: why a pilot would not claim it)',
  },
  log: { type: 'string', value: 'FILE', description: 'append the log to FILE (default: stderr)' },
  'log-format': {
    type: 'string',
    value: 'pretty|json',
    description:
      'log lines readable (pretty) or one JSON object each (default: pretty on a terminal, else json)',
  },
  'log-level': {
    type: 'string',
    value: 'LEVEL',
    description: `${LOG_LEVELS.join('|')} (default info)`,
  },
  json: { type: 'boolean', description: 'print the final summary as JSON on stdout' },
  check: {
    type: 'boolean',
    description:
      'preflight only: database, views, tools, proxy lifetime vs --walltime, disk, sandbox; claims nothing',
  },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
  version: { type: 'boolean', description: 'print the version of this pilot.js and exit' },
});

export interface PilotSettingsSources {
  argv: string[];
  env: Record<string, string | undefined>;
  home: string;
  cwd: string;
  now: number;
  /** Reads a file; injected so tests can exercise the 0600 check on real files. */
  readCredentialsFile?: (path: string) => { text: string; mode: number };
}

function defaultReadCredentials(path: string) {
  try {
    return { text: readFileSync(path, 'utf8'), mode: statSync(path).mode };
  } catch (err) {
    throw new LrtError('E_CONFIG', `--credentials ${path}: cannot read it: ${fileProblem(err)}`, {
      cause: err,
    });
  }
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

export function parsePilotSettings(
  sources: PilotSettingsSources,
): PilotSettings | { help: true } | { version: true } {
  const warnings: string[] = [];
  // LOFAR's old JDLs run `pilot.js DB USER PWD TYPE`: taken verbatim before option parsing, so a
  // password that starts with '-' is not read as an option. Accepted, with a warning.
  const looksLegacy =
    sources.argv.length >= 4 &&
    sources.argv.slice(0, 2).every((a) => !a.startsWith('-')) &&
    !sources.argv[3]!.startsWith('-');
  const legacyArgs = looksLegacy ? sources.argv.slice(0, 4) : [];
  const optionArgs = looksLegacy ? sources.argv.slice(4) : sources.argv;
  let parsed: { values: RawValues; positionals: string[] };
  try {
    parsed = parseArgs({
      args: optionArgs,
      options: parseArgsConfig(PILOT_OPTIONS),
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new LrtError('E_USAGE', `${(err as Error).message}\nRun 'pilot --help'.`);
  }
  const v = optionValues(PILOT_OPTIONS, parsed.values);
  if (v.help) return { help: true };
  if (v.version) return { version: true };

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
  const walltime = v.walltime;
  return {
    picas,
    type,
    view: v.view ?? 'todo',
    leaseSeconds: v.lease,
    maxAttempts: v['max-attempts'],
    maxTokens: v['max-tokens'],
    maxTimeSeconds: v['max-time'],
    wait: v.wait,
    pollSeconds: v.poll,
    workDir,
    cacheDir: v.cache ?? cacheDirIn(workDir),
    keepJobDir: v['keep-jobdir'],
    keepFailed: v['keep-failed'],
    tokenTimeoutSeconds: v['token-timeout'],
    walltimeEnd: walltime !== undefined ? sources.now + walltime * 1000 : walltimeEndFromEnv(sources.env),
    minRemainingSeconds: v['min-remaining'],
    graceSeconds: v.grace,
    sandboxBase: v['sandbox-base'] ?? DEFAULT_SANDBOX_BASE,
    shubMirror: v['shub-mirror'] ?? DEFAULT_SHUB_MIRROR,
    dbWaitSeconds: v['db-wait'],
    transfer: transferOptionsFromEnv(sources.env),
    localityCheck: localityCheckOf(v['locality-check']),
    exportCredentials: v['export-credentials'],
    tokenId: v.token,
    dryRun: v['dry-run'],
    logFile: v.log,
    logFormat: logFormatOf(v['log-format']),
    logLevel: v['log-level'] === undefined ? 'info' : choiceOf('--log-level', LOG_LEVELS, v['log-level']),
    json: v.json,
    check: v.check,
    warnings,
  };
}
