import { LrtError } from '../core';
import { type PilotLaunch, pilotArgs, shellQuote, slurmTime } from './pilotArgs';
import { nodeSelection, runPilotLines } from './runtime';

export interface SlurmOptions {
  /** Array tasks 1..count, one pilot each. */
  count: number;
  /** At most this many tasks at once (`%C`). */
  concurrent?: number;
  cpus?: number;
  partition?: string;
  /** Seconds; becomes `--time` (the pilot reads what is left of it from Slurm). */
  walltime?: number;
  /** Slurm account to charge (`--account`). */
  account?: string;
  /** Further sbatch options as `--name=value` or `--flag`, each one #SBATCH line. */
  sbatchArgs?: string[];
  /** Slurm memory per node, e.g. `8G`. */
  mem?: string;
  jobName?: string;
  /** Folder for the task logs (`pilot-%A_%a.log`). */
  logDir: string;
  /** Absolute path of the job folder's copy of pilot.js on the shared file system. */
  pilotPath: string;
  node?: string;
  /** The node runtime in the job folder (absolute path and sha256), for nodes without node >= 18. */
  runtime?: { path: string; sha256: string };
  launch: PilotLaunch;
}

/** A value in an #SBATCH line: Slurm reads up to the first blank, so blanks and newlines are refused. */
function directiveValue(name: string, value: string): string {
  if (!/^[^\s#'"\\]+$/.test(value)) {
    throw new LrtError(
      'E_USAGE',
      `--${name} "${value}" cannot go into an #SBATCH line (no blanks or quotes)`,
    );
  }
  return value;
}

/** Options lrt writes itself: given again through --sbatch-arg they would contradict it. */
const OWN_OPTIONS = ['array', 'output', 'ntasks', 'job-name'];

/** `--name=value` or `--flag` from --sbatch-arg, as one #SBATCH line. */
function sbatchArg(arg: string): [string, string | undefined] {
  const m = /^--([a-z][a-z-]*)(?:=(.*))?$/s.exec(arg);
  if (!m) {
    throw new LrtError(
      'E_USAGE',
      `--sbatch-arg "${arg}" must be one long sbatch option, --name=value or --flag (e.g. --sbatch-arg=--qos=short)`,
    );
  }
  if (OWN_OPTIONS.includes(m[1]!)) {
    throw new LrtError('E_USAGE', `--sbatch-arg "${arg}": lrt submit sets --${m[1]} itself`);
  }
  return [m[1]!, m[2] === undefined ? undefined : directiveValue(`sbatch-arg ${m[1]}`, m[2])];
}

/** A Slurm array batch script: one pilot per task, the walltime passed on to the pilot. */
export function slurmScript(options: SlurmOptions): string {
  if (!Number.isInteger(options.count) || options.count < 1) {
    throw new LrtError(
      'E_USAGE',
      `the number of pilot jobs must be a whole number >= 1, got ${options.count}`,
    );
  }
  // Slurm reads --mem as megabytes, or with a K, M, G or T suffix (a B after it allowed); else sbatch fails.
  if (options.mem !== undefined && !/^\d+([KMGT]B?)?$/i.test(options.mem)) {
    throw new LrtError(
      'E_USAGE',
      `--mem must be a size as Slurm reads it (e.g. 8G, 500M), got "${options.mem}"`,
    );
  }
  const array = `1-${options.count}${options.concurrent ? `%${options.concurrent}` : ''}`;
  const directives: [string, string | undefined][] = [
    ['job-name', options.jobName ?? `lrt-${options.launch.type}`],
    ['array', array],
    ['ntasks', '1'],
    ['cpus-per-task', String(options.cpus ?? 1)],
  ];
  if (options.partition) directives.push(['partition', options.partition]);
  if (options.walltime) directives.push(['time', slurmTime(options.walltime)]);
  if (options.mem) directives.push(['mem', options.mem]);
  if (options.account) directives.push(['account', options.account]);
  directives.push(['output', `${options.logDir}/pilot-%A_%a.log`]);
  for (const arg of options.sbatchArgs ?? []) directives.push(sbatchArg(arg));
  const args = [options.pilotPath, ...pilotArgs(options.launch)].map(shellQuote);
  return [
    '#!/bin/bash',
    ...directives.map(([name, value]) =>
      value === undefined ? `#SBATCH --${name}` : `#SBATCH --${name}=${directiveValue(name, value)}`,
    ),
    '# Written by lrt submit: one grid-lrt pilot per array task. The PiCaS password is in the',
    '# credentials file (mode 0600), never in this script. The pilot asks Slurm for the time left.',
    'set -euo pipefail',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion in the script
    'echo "pilot task ${SLURM_ARRAY_TASK_ID:-?} of job ${SLURM_ARRAY_JOB_ID:-?} on $(hostname)"',
    ...nodeSelection(options.node ?? 'node', options.runtime),
    ...runPilotLines(args[0]!, args.slice(1).join(' ')),
    '',
  ].join('\n');
}

/** `#SBATCH --name=value` lines of a script before its first command, as Slurm reads them. */
export function sbatchDirectives(script: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of script.split('\n').slice(1)) {
    if (line.startsWith('#SBATCH')) {
      const m = /^#SBATCH\s+--([a-z-]+)(?:[= ](\S+))?/.exec(line);
      if (m) out[m[1]!] = m[2] ?? '';
      continue;
    }
    // Slurm stops reading directives at the first line that is not a comment or blank.
    if (line.trim() !== '' && !line.startsWith('#')) break;
  }
  return out;
}
