import { LrtError } from '../core';
import { type PilotLaunch, pilotArgs, shellQuote } from './pilotArgs';
import { nodeSelection, RUNTIME_FILE, runPilotLines } from './runtime';

/** The script the grid job runs: it starts pilot.js from the InputSandbox with node. */
export const START_SCRIPT = 'lrt-pilot.sh';
export const PILOT_FILE = 'pilot.js';

/** JDL dialects: gLite WMS reads GLUE-era attributes, DIRAC its own (its JDL documentation). */
export const JDL_FLAVOURS = ['glite', 'dirac'] as const;
export type JdlFlavour = (typeof JDL_FLAVOURS)[number];

export interface JdlOptions {
  /** Default glite. */
  flavour?: JdlFlavour;
  /** Number of pilot jobs (the parametric job's `Parameters`). */
  count: number;
  launch: PilotLaunch;
  /** Paths of the start script, pilot.js, credentials file (and node runtime) as the submit tool reads them. */
  inputSandbox: { startScript: string; pilot: string; credentials: string; runtime?: string };
  cpus?: number;
  wholeNode?: boolean;
  /** A ClassAd expression, e.g. `other.GlueCEPolicyMaxWallClockTime >= 720`. */
  requirements?: string;
  /** GRID_LRT used `ParameterStep` as the submission stride; 1 submits every job. */
  parameterStep?: number;
}

/** A ClassAd string literal. */
export function classAdString(value: string): string {
  if (/[\r\n]/.test(value))
    throw new LrtError('E_USAGE', `a JDL string cannot hold a line break: ${JSON.stringify(value)}`);
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The job wrapper splits `Arguments` on blanks and hands it to a shell: only plain words survive
 * unchanged, so anything else is refused rather than mangled.
 */
function argumentsString(words: string[]): string {
  for (const word of words) {
    if (!/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) {
      throw new LrtError(
        'E_USAGE',
        `cannot pass ${JSON.stringify(word)} to the pilot through a JDL Arguments string`,
      );
    }
  }
  return words.join(' ');
}

/**
 * A parametric JDL in GRID_LRT's shape (`/bin/sh` runs a start script with its arguments), but the
 * arguments name a credentials file shipped in the InputSandbox instead of carrying the password.
 */
export function jdlDescription(options: JdlOptions): string {
  if (!Number.isInteger(options.count) || options.count < 1) {
    throw new LrtError(
      'E_USAGE',
      `the number of pilot jobs must be a whole number >= 1, got ${options.count}`,
    );
  }
  const args = argumentsString([START_SCRIPT, ...pilotArgs(options.launch)]);
  const sandbox = [
    options.inputSandbox.startScript,
    options.inputSandbox.pilot,
    options.inputSandbox.credentials,
    ...(options.inputSandbox.runtime ? [options.inputSandbox.runtime] : []),
  ];
  const cpus = options.cpus ?? 1;
  const dirac = options.flavour === 'dirac';
  if (dirac && options.requirements) {
    throw new LrtError(
      'E_USAGE',
      'DIRAC ignores a JDL Requirements expression: choose sites and queues with DIRAC Tags or Site instead',
    );
  }
  const lines = [
    '[',
    // DIRAC expands Parameters/ParameterStart/ParameterStep by itself and has no JobType Parametric.
    dirac ? `  JobName = ${classAdString(`lrt-${options.launch.type}`)};` : '  JobType = "Parametric";',
    '  ParameterStart = 0;',
    `  ParameterStep = ${options.parameterStep ?? 1};`,
    `  Parameters = ${options.count};`,
    '',
    '  Executable = "/bin/sh";',
    `  Arguments = ${classAdString(args)};`,
    '  StdOutput = "parametricjob.out";',
    '  StdError = "parametricjob.err";',
    `  InputSandbox = {${sandbox.map(classAdString).join(', ')}};`,
    '  OutputSandbox = {"parametricjob.out", "parametricjob.err"};',
  ];
  if (dirac) {
    lines.push('', `  NumberOfProcessors = ${cpus};`);
    if (options.wholeNode) lines.push('  Tags = {"WholeNode"};');
  } else {
    lines.push(
      '  ShallowRetryCount = 0;',
      '',
      `  WholeNodes = ${options.wholeNode ? 'true' : 'false'};`,
      `  SmpGranularity = ${cpus};`,
      `  CPUNumber = ${cpus};`,
    );
  }
  if (options.requirements) lines.push(`  Requirements = ${options.requirements};`);
  lines.push(']');
  return `${lines.join('\n')}\n`;
}

/**
 * The start script shipped in the InputSandbox. The grid copies sandbox files with the site's
 * umask, so it makes the credentials file private again before the pilot checks its mode. With a
 * runtime (sha256 of the node binary in RUNTIME_FILE), a worker without node >= 18 runs that one.
 */
export function startScript(launch: PilotLaunch, node = 'node', runtimeSha256?: string): string {
  return [
    '#!/bin/sh',
    '# Starts the grid-lrt pilot on a worker node (written by lrt submit). Arguments go to pilot.js.',
    'set -e',
    `chmod 600 ${shellQuote(launch.credentialsFile)} 2>/dev/null || true`,
    ...nodeSelection(node, runtimeSha256 ? { path: RUNTIME_FILE, sha256: runtimeSha256 } : undefined),
    ...runPilotLines(PILOT_FILE, '"$@"'),
    '',
  ].join('\n');
}
