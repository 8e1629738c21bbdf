import { choiceOf, LrtError } from '../core';

/** `--cluster`: `auto` reads `cluster.n` from the database info; `on`/`off` decide without it. */
export type ClusterSetting = 'auto' | 'on' | 'off';

export const CLUSTER_SETTINGS: readonly ClusterSetting[] = ['auto', 'on', 'off'];

export function parseClusterSetting(value: string | undefined): ClusterSetting {
  if (value === undefined || value === '') return 'auto';
  return choiceOf('--cluster', CLUSTER_SETTINGS, value);
}

/** Where the PiCaS database is and who we are there. Parsed once at the edge. */
export interface PicasSettings {
  /** Server base URL without credentials and without a trailing slash. */
  url: string;
  database: string;
  user?: string;
  password?: string;
  /** Cluster rules (docs/protocol.md): `auto` (default) when the database reports n > 1. */
  cluster?: ClusterSetting;
}

export interface PicasSettingsSources {
  flags?: { url?: string; database?: string; user?: string; password?: string; cluster?: string };
  env?: Record<string, string | undefined>;
  /** Text of ~/.picasrc when it exists. */
  picasrc?: string;
}

/** Parses GRID_LRT's ~/.picasrc: `key=value` lines (`user`, `password`, `database`, `url`). */
export function parsePicasrc(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    out[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
  }
  return out;
}

/** Splits credentials off a URL: `http://u:p@h:5984/` -> url `http://h:5984`, user, password. */
export function splitUrlCredentials(url: string): { url: string; user?: string; password?: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not echoed: a URL that does not parse may still hold a password.
    throw new LrtError(
      'E_CONFIG',
      'PiCaS URL does not parse: expected http(s)://[user:password@]host[:port]',
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new LrtError('E_CONFIG', `PiCaS URL must be http:// or https://, got ${parsed.protocol}`);
  }
  const user = parsed.username ? decodeURIComponent(parsed.username) : undefined;
  const password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  parsed.username = '';
  parsed.password = '';
  const clean = parsed.toString().replace(/\/+$/, '');
  return { url: clean, ...(user ? { user } : {}), ...(password ? { password } : {}) };
}

/**
 * Flags win, then PICAS_URL / PICAS_DB / PICAS_USR / PICAS_USR_PWD, then ~/.picasrc.
 * Credentials inside a URL count as that source's user and password.
 */
export function resolvePicasSettings(sources: PicasSettingsSources): PicasSettings {
  const flags = sources.flags ?? {};
  const env = sources.env ?? {};
  const rc = sources.picasrc ? parsePicasrc(sources.picasrc) : {};

  const layers = [
    { url: flags.url, database: flags.database, user: flags.user, password: flags.password },
    { url: env.PICAS_URL, database: env.PICAS_DB, user: env.PICAS_USR, password: env.PICAS_USR_PWD },
    { url: rc.url, database: rc.database, user: rc.user, password: rc.password },
  ].map((layer) => {
    if (!layer.url) return layer;
    const split = splitUrlCredentials(layer.url);
    return {
      url: split.url,
      database: layer.database,
      user: layer.user ?? split.user,
      password: layer.password ?? split.password,
    };
  });

  const first = (key: 'url' | 'database' | 'user' | 'password') => layers.find((l) => l[key])?.[key];
  const url = first('url');
  const database = first('database');
  if (!url) {
    throw new LrtError('E_CONFIG', 'no PiCaS server: pass --url, set PICAS_URL, or put url= in ~/.picasrc');
  }
  if (!database) {
    throw new LrtError(
      'E_CONFIG',
      'no PiCaS database: pass --db, set PICAS_DB, or put database= in ~/.picasrc',
    );
  }
  if (!/^[a-z][a-z0-9_$()+/-]*$/.test(database)) {
    throw new LrtError(
      'E_CONFIG',
      `invalid database name "${database}": CouchDB names start with a lowercase letter and use a-z 0-9 _$()+-/`,
    );
  }
  const user = first('user');
  const password = first('password');
  if (user && !password) {
    // Said here, before any request: a login without a password only earns a 401, and each
    // failed login counts towards CouchDB 3.4+'s lock of the account.
    throw new LrtError(
      'E_CONFIG',
      `user "${user}" is given but no password: set PICAS_USR_PWD, put password= in ~/.picasrc, ` +
        'or give the URL as https://USER:PASSWORD@host (a pilot also reads --credentials FILE)',
    );
  }
  const clusterFlag = flags.cluster ?? env.PICAS_CLUSTER;
  return {
    url,
    database,
    ...(user ? { user } : {}),
    ...(password ? { password } : {}),
    ...(clusterFlag ? { cluster: parseClusterSetting(clusterFlag) } : {}),
  };
}

/** For messages and `--json`: where we talk to, never the password. */
export function describeSettings(settings: PicasSettings): { url: string; database: string; user?: string } {
  return {
    url: settings.url,
    database: settings.database,
    ...(settings.user ? { user: settings.user } : {}),
  };
}
