import { closeSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { execa } from 'execa';
import { dropPasswordsFromEnv } from '../core';

/**
 * Keeping the PiCaS password out of what a same-user payload can read. A process's
 * `/proc/<pid>/environ` and `/proc/<pid>/cmdline` show what it was started with, whatever it
 * changes later; so a pilot started with the password in its environment (PICAS_USR_PWD, a
 * PICAS_URL with `user:password@`) or on its command line (the legacy `DB USER PWD TYPE`) starts
 * the real pilot again with both cleaned, and hands it the secrets over a pipe. That pilot is the
 * parent of every master.sh. The first process stays as a thin launcher that forwards signals and
 * the exit status: its own environ still holds what it was started with (README: "What a payload
 * can still read").
 */

/** Names the fd (in the relaunched pilot) that carries the secrets; the variable holds no secret. */
export const SECRETS_FD_VARIABLE = 'LRT_PILOT_SECRETS_FD';
const SECRETS_FD = 3;
const MASK = '***';

/** What the relaunched pilot reads from the pipe: its real argv and the secret variables. */
export interface LaunchSecrets {
  argv: string[];
  env: Record<string, string>;
}

export interface CleanLaunch {
  /** argv for the relaunched pilot (after the script path), the password masked. */
  argv: string[];
  /** Its environment: the launcher's without the secrets, plus SECRETS_FD_VARIABLE. */
  env: Record<string, string>;
  secrets: LaunchSecrets;
}

/** The password of the legacy form `pilot.js DB USER PWD TYPE`, when argv has that form. */
export function legacyPassword(argv: readonly string[]): string | undefined {
  return argv.length >= 4 && !argv[0]?.startsWith('-') && !argv[1]?.startsWith('-') ? argv[2] : undefined;
}

/** How to relaunch without secrets, or undefined when argv and env hold none. Pure. */
export function planCleanLaunch(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): CleanLaunch | undefined {
  const clean: Record<string, string | undefined> = { ...env };
  dropPasswordsFromEnv(clean);
  const secretEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && clean[name] !== value) secretEnv[name] = value;
  }
  const password = legacyPassword(argv);
  if (Object.keys(secretEnv).length === 0 && password === undefined) return undefined;
  const childEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(clean)) if (value !== undefined) childEnv[name] = value;
  childEnv[SECRETS_FD_VARIABLE] = String(SECRETS_FD);
  return {
    argv: argv.map((arg, i) => (password !== undefined && i === 2 ? MASK : arg)),
    env: childEnv,
    secrets: { argv: [...argv], env: secretEnv },
  };
}

/**
 * Starts this pilot again as planned, writes the secrets to its fd 3 and waits. SIGTERM, SIGINT
 * and SIGHUP go on to it (a batch system may signal only this process); the exit code is its.
 */
export async function relaunchClean(plan: CleanLaunch): Promise<number> {
  const script = process.argv[1]!;
  const child = execa(process.execPath, [...process.execArgv, script, ...plan.argv], {
    env: plan.env,
    extendEnv: false,
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    reject: false,
    // A forwarded SIGTERM starts the give-back, which may take long on a slow database: execa's
    // default would follow it with SIGKILL after 5 s and leave the token locked.
    forceKillAfterDelay: false,
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const handlers = (['SIGTERM', 'SIGINT', 'SIGHUP'] as const).map((signal) => {
    const handler = forward(signal);
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  const pipe = child.stdio[SECRETS_FD] as unknown as NodeJS.WritableStream;
  pipe.on('error', () => {}); // a pilot that died at once: its exit status says why
  pipe.end(JSON.stringify(plan.secrets));
  try {
    const result = await child;
    if (result.exitCode !== undefined) return result.exitCode;
    if ((result as { code?: string }).code === 'ENOENT') {
      process.stderr.write(`pilot: cannot start ${process.execPath} again\n`);
      return 1;
    }
    // Killed by a signal it did not handle (SIGKILL): the shell's convention.
    const signal = result.signal as NodeJS.Signals | undefined;
    return 128 + ((signal && constants.signals[signal]) || 1);
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
}

/**
 * In a relaunched pilot: reads the secrets from the pipe, puts the secret variables back into
 * process.env (setenv: /proc/self/environ keeps showing the clean start) and returns the real
 * argv. Returns undefined in a pilot that was not relaunched.
 */
export function takeLaunchSecrets(env: NodeJS.ProcessEnv): string[] | undefined {
  const fd = env[SECRETS_FD_VARIABLE];
  if (fd === undefined) return undefined;
  delete env[SECRETS_FD_VARIABLE];
  const secrets = JSON.parse(readFileSync(Number(fd), 'utf8')) as LaunchSecrets;
  closeSync(Number(fd)); // master.sh must not inherit it
  Object.assign(env, secrets.env);
  dieWithLauncher();
  return secrets.argv;
}

/**
 * A launcher killed with SIGKILL cannot pass it on: the pilot then ends the same way as soon as
 * it sees it has been orphaned, so `kill -9 <launcher>` ends the pilot (and its payload watchdog
 * ends master.sh), as it did before the relaunch.
 */
function dieWithLauncher(): void {
  const launcher = process.ppid;
  setInterval(() => {
    if (process.ppid !== launcher) process.kill(process.pid, 'SIGKILL');
  }, 500).unref();
}
