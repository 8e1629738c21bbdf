/** Helpers that keep passwords and proxies out of messages, logs and JSON output. */

const REDACTED = '***';

/** `http://user:pw@host/` -> `http://user:***@host/`; leaves anything that is not a URL alone. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = REDACTED;
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@\s]+):[^@/\s]+@/g, `//$1:${REDACTED}@`);
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
  return out.replace(/\/\/([^:/@\s]+):[^@/\s]+@/g, `//$1:${REDACTED}@`);
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
