import { LrtError } from '../core';

/**
 * What every launched pilot is told, whatever the backend: where the tokens are and where its
 * credentials file is. The password never goes on a command line or into a job description.
 */
export interface PilotLaunch {
  /** CouchDB base URL, without credentials. */
  url: string;
  database: string;
  type: string;
  /** Path of the credentials file as the pilot sees it (relative in a grid sandbox). */
  credentialsFile: string;
  /** Further pilot flags, e.g. ['--view', 'todo', '--max-tokens', '5', '--keep-failed']. */
  extraArgs?: string[];
}

/** Pilot options `lrt submit` passes on unchanged (their meaning is the pilot's: see `pilot --help`). */
export const PASSED_PILOT_OPTIONS = [
  'view',
  'lease',
  'max-attempts',
  'max-tokens',
  'max-time',
  'wait',
  'poll',
  'token-timeout',
  'min-remaining',
  'grace',
  'keep-failed',
  'keep-jobdir',
  'log-level',
] as const;

export function assertNoCredentialsInUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new LrtError('E_CONFIG', 'the PiCaS URL is not a valid URL');
  }
  if (parsed.username || parsed.password) {
    throw new LrtError(
      'E_CONFIG',
      'the PiCaS URL for pilots must not carry credentials: they go in the credentials file',
    );
  }
}

/** The pilot's argv (after `pilot.js`). */
export function pilotArgs(launch: PilotLaunch): string[] {
  assertNoCredentialsInUrl(launch.url);
  return [
    '--url',
    launch.url,
    '--db',
    launch.database,
    '--type',
    launch.type,
    '--credentials',
    launch.credentialsFile,
    ...(launch.extraArgs ?? []),
  ];
}

/** Quotes one word for sh/bash: unchanged when it is plain, else in single quotes. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Walltime as seconds from `S`, `M:S`, `H:M:S` or `D-H[:M[:S]]` (Slurm's forms for --time, where a
 * bare number means minutes: we take seconds for the pilot and say so in the help).
 */
export function parseWalltime(text: string): number {
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(text.trim());
  if (!m) {
    throw new LrtError('E_USAGE', `--walltime "${text}" is not S, H:M:S or D-H:M:S`);
  }
  const [, d, a, b, c] = m;
  let seconds: number;
  if (d !== undefined) seconds = Number(d) * 86400 + Number(a) * 3600 + Number(b ?? 0) * 60 + Number(c ?? 0);
  else if (c !== undefined) seconds = Number(a) * 3600 + Number(b) * 60 + Number(c);
  else if (b !== undefined) seconds = Number(a) * 60 + Number(b);
  else seconds = Number(a);
  if (seconds < 1) throw new LrtError('E_USAGE', `--walltime "${text}" must be at least one second`);
  return seconds;
}

/** Seconds as Slurm's `D-HH:MM:SS` / `HH:MM:SS`. */
export function slurmTime(seconds: number): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${d > 0 ? `${d}-` : ''}${pad(h)}:${pad(m)}:${pad(s)}`;
}
