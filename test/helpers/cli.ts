import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { execa } from 'execa';
import { commands } from '../../src/cli/commands';
import { runCli } from '../../src/cli/run';

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs `lrt ARGS` in this process (fast): same parsing, output and exit codes as dist/lrt.js. */
export async function lrt(
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; home?: string } = {},
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const exitCode = await runCli(commands, args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    home: options.home ?? '/nonexistent-home',
  });
  return { exitCode, stdout, stderr };
}

export const DIST_LRT = resolve(__dirname, '../../dist/lrt.js');

/** Runs the built bundle as a real process (npm test builds dist/ first). */
export async function lrtProcess(
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string } = {},
): Promise<CliResult> {
  const result = await execa('node', [DIST_LRT, ...args], {
    env: { HOME: '/nonexistent-home', PATH: process.env.PATH, ...options.env },
    extendEnv: false,
    cwd: options.cwd,
    reject: false,
  });
  return { exitCode: result.exitCode ?? 1, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Runs a bundle (dist/lrt.js by default) with its stdout pipe closed by the reader before the
 * first write, as `lrt ... | head` does once head has its lines: every write then fails with EPIPE.
 */
export async function withClosedStdout(
  args: string[],
  options: { env?: Record<string, string | undefined>; bundle?: string } = {},
): Promise<CliResult> {
  const child = execa('node', [options.bundle ?? DIST_LRT, ...args], {
    env: { HOME: '/nonexistent-home', PATH: process.env.PATH, ...options.env },
    extendEnv: false,
    reject: false,
    buffer: { stdout: false },
  });
  child.stdout.destroy();
  const result = await child;
  return { exitCode: result.exitCode ?? 1, stdout: '', stderr: String(result.stderr) };
}

/** Starts `lrt db serve --port 0 ARGS` (dist), returns its first stdout line (the URL) and the process. */
export async function serveDb(args: string[], env: Record<string, string> = {}) {
  const child = execa('node', [DIST_LRT, 'db', 'serve', '--port', '0', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: tmpdir(), ...env },
    extendEnv: false,
    reject: false,
  });
  const url = await new Promise<string>((done, fail) => {
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      if (buffered.includes('\n')) done(buffered.split('\n')[0]!);
    });
    child.once('exit', (code) => fail(new Error(`lrt db serve exited ${code}`)));
  });
  return { child, url };
}
