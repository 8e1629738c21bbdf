/** Helpers that keep passwords and proxies out of messages, logs and JSON output. */

const REDACTED = '***';

/**
 * `//user:password@` in text that may not parse as a URL. The password runs to the LAST `@` of
 * the word: passwords typed into URLs unencoded hold `/`, `:` or `@`, and hiding too much is safe.
 */
const URL_PASSWORD = /\/\/([^:/@\s]*):\S*@/g;

/** `http://user:pw@host/` -> `http://user:***@host/`; leaves anything that is not a URL alone. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = REDACTED;
    return parsed.toString();
  } catch {
    return url.replace(URL_PASSWORD, `//$1:${REDACTED}@`);
  }
}

/** Replaces every occurrence of each secret (and its URL-encoded form) in `text`. */
export function scrubSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret || secret.length < 3) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) {
      out = out.split(form).join(REDACTED);
    }
  }
  return out.replace(URL_PASSWORD, `//$1:${REDACTED}@`);
}

/**
 * Takes the PiCaS password out of an environment, in place: PICAS_USR_PWD goes, PICAS_URL loses
 * its `user:password@`. For a process's own env once its settings are read, so the tools it
 * starts (which inherit it) never see the password.
 */
export function dropPasswordsFromEnv(env: Record<string, string | undefined>): void {
  delete env.PICAS_USR_PWD;
  const url = env.PICAS_URL;
  if (url) env.PICAS_URL = url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^:/@\s]*:\S*@/i, '$1');
}

/** pino redact paths for every place a credential can hide in our log objects. */
export const LOG_REDACT_PATHS = [
  'password',
  '*.password',
  'pwd',
  '*.pwd',
  'auth',
  '*.auth',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'proxy',
  '*.proxy',
];
