/** Variables whose whole value is a password. */
const PASSWORD_VARIABLES = ['PICAS_USR_PWD', 'LOFAR_LTA_PWD', 'LRT_DB_ADMIN_PASSWORD'];
/** Variables that hold a URL, which may carry `user:password@`. */
const URL_VARIABLES = ['PICAS_URL', 'LTA_STAGER_URL'];

/**
 * The passwords the environment gives this process, for scrubbing error output. The password of
 * a URL is cut out by hand: a URL too broken for `new URL` still must not be printed with it.
 */
export function secretsInEnv(env: Record<string, string | undefined>): string[] {
  const secrets = PASSWORD_VARIABLES.map((name) => env[name]).filter((v): v is string => !!v);
  for (const name of URL_VARIABLES) {
    const password = /^[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:(\S*)@/i.exec(env[name] ?? '')?.[1];
    if (password) {
      secrets.push(password);
      try {
        secrets.push(decodeURIComponent(password));
      } catch {
        // a stray % stays as written
      }
    }
  }
  return secrets;
}
