import { LrtError, redactUrl } from '../core';

/** The public LTA stager endpoint (docs/lta-sites.md). */
export const DEFAULT_STAGER_URL = 'https://webportal.astron.nl/service-public/xmlrpc';
export const DEFAULT_STAGER_TIMEOUT_MS = 60_000;
/** SURLs per add_getid request: a list is one request (two e-mails) unless it is larger. */
export const DEFAULT_MAX_SURLS_PER_REQUEST = 5_000;

export interface StagerCredentials {
  user: string;
  password: string;
  /** Where they came from, for messages: `LOFAR_LTA_USER/LOFAR_LTA_PWD`, `~/.stagingrc` ... */
  source: string;
}

export interface StagerSettings extends StagerCredentials {
  url: string;
  timeoutMs: number;
  maxSurlsPerRequest: number;
}

/** One place credentials can come from, in the order they are tried. */
export interface CredentialLayer {
  source: string;
  user?: string;
  password?: string;
}

export interface StagerSettingsSources {
  flags?: { url?: string; user?: string };
  env?: Record<string, string | undefined>;
  /** Text of ~/.awe/Environment.cfg when it exists. */
  environmentCfg?: string;
  /** Text of ~/.stagingrc when it exists. */
  stagingrc?: string;
  timeoutMs?: number;
  maxSurlsPerRequest?: number;
}

export const ENVIRONMENT_CFG = '~/.awe/Environment.cfg';
export const STAGINGRC = '~/.stagingrc';

function keyValueLines(text: string, separators: RegExp): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r\n|\n|\r/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';') || line.startsWith('[')) continue;
    const m = separators.exec(line);
    if (!m || m.index === 0) continue;
    const key = line.slice(0, m.index).trim().toLowerCase();
    // Only the first separator splits: passwords may hold ':' or '='.
    if (!out.has(key)) out.set(key, line.slice(m.index + m[0].length).trim());
  }
  return out;
}

/** AWE's `~/.awe/Environment.cfg`: `database_user : NAME` and `database_password : PW`. */
export function parseEnvironmentCfg(text: string): { user?: string; password?: string } {
  const values = keyValueLines(text, /\s*[:=]\s*/);
  const user = values.get('database_user') || undefined;
  const password = values.get('database_password') || undefined;
  return { ...(user ? { user } : {}), ...(password ? { password } : {}) };
}

/** `~/.stagingrc`: `user=NAME` and `password=PW`. */
export function parseStagingrc(text: string): { user?: string; password?: string } {
  const values = keyValueLines(text, /\s*=\s*/);
  const user = values.get('user') || undefined;
  const password = values.get('password') || undefined;
  return { ...(user ? { user } : {}), ...(password ? { password } : {}) };
}

/** The credential layers in priority order: flags, environment, Environment.cfg, .stagingrc. */
export function credentialLayers(sources: StagerSettingsSources): CredentialLayer[] {
  const env = sources.env ?? {};
  const layers: CredentialLayer[] = [
    { source: '--lta-user', user: sources.flags?.user || undefined },
    {
      source: 'LOFAR_LTA_USER/LOFAR_LTA_PWD',
      user: env.LOFAR_LTA_USER || undefined,
      password: env.LOFAR_LTA_PWD || undefined,
    },
  ];
  if (sources.environmentCfg !== undefined) {
    layers.push({ source: ENVIRONMENT_CFG, ...parseEnvironmentCfg(sources.environmentCfg) });
  }
  if (sources.stagingrc !== undefined)
    layers.push({ source: STAGINGRC, ...parseStagingrc(sources.stagingrc) });
  return layers;
}

/**
 * The user is the first one named (flag, LOFAR_LTA_USER, Environment.cfg, .stagingrc); the
 * password is the first one given for that user: a layer that names another user never lends
 * its password. Throws E_CONFIG saying where to put what is missing.
 */
export function resolveCredentials(layers: readonly CredentialLayer[]): StagerCredentials {
  const named = layers.find((l) => l.user);
  const where = `set LOFAR_LTA_USER and LOFAR_LTA_PWD, or put database_user / database_password in ${ENVIRONMENT_CFG}, or user= / password= in ${STAGINGRC}`;
  if (!named?.user) throw new LrtError('E_CONFIG', `no LTA account for the stager: ${where}`);
  const user = named.user;
  const withPassword = layers.find((l) => l.password && (l.user === undefined || l.user === user));
  if (!withPassword?.password) {
    throw new LrtError('E_CONFIG', `no LTA password for user "${user}" (from ${named.source}): ${where}`);
  }
  const source =
    withPassword.source === named.source ? named.source : `${named.source} + ${withPassword.source}`;
  return { user, password: withPassword.password, source };
}

/** The endpoint, checked; `from` names where it came from (the flag or the variable) in errors. */
function stagerUrl(raw: string, from: string): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new LrtError('E_CONFIG', `${from} ${redactUrl(raw)} is not a valid URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new LrtError(
      'E_CONFIG',
      `${from} must be https:// (or http:// for a local server), got ${parsed.protocol}`,
    );
  }
  if (parsed.username || parsed.password) {
    throw new LrtError(
      'E_CONFIG',
      `${from} ${redactUrl(raw)} holds credentials: give them in LOFAR_LTA_USER / LOFAR_LTA_PWD or a credentials file instead`,
    );
  }
  return parsed.toString();
}

/** Settings for the stager client: endpoint from --stager-url, LTA_STAGER_URL, the default. */
export function resolveStagerSettings(sources: StagerSettingsSources): StagerSettings {
  const env = sources.env ?? {};
  const url = sources.flags?.url
    ? stagerUrl(sources.flags.url, '--stager-url')
    : env.LTA_STAGER_URL
      ? stagerUrl(env.LTA_STAGER_URL, 'LTA_STAGER_URL')
      : stagerUrl(DEFAULT_STAGER_URL, 'the default stager URL');
  return {
    url,
    ...resolveCredentials(credentialLayers(sources)),
    timeoutMs: sources.timeoutMs ?? DEFAULT_STAGER_TIMEOUT_MS,
    maxSurlsPerRequest: sources.maxSurlsPerRequest ?? DEFAULT_MAX_SURLS_PER_REQUEST,
  };
}
