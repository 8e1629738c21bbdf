import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { parseExportLines } from '../../test/helpers/shellExports';
import type { StageInChildJob, StageInChildResult } from './stageInChild';

/** Processes for bench/stage-in: node:child_process only (tsx cannot load execa). */

const ROOT = resolve(__dirname, '../..');
const TESTBED_SCRIPT = join(ROOT, 'scripts', 'gridftp-testbed.sh');

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  pid: number | undefined;
}

/** Runs `file args` (argument array, no shell); `onSpawn` gets the PID as soon as there is one. */
export function run(
  file: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; onSpawn?: (pid: number) => void } = {},
): Promise<Ran> {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const child = spawn(file, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', fail);
    child.on('spawn', () => {
      if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    });
    child.on('close', (code) =>
      done({ code, stdout, stderr, seconds: (performance.now() - t0) / 1000, pid: child.pid }),
    );
  });
}

export async function runOk(file: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<Ran> {
  const ran = await run(file, args, env ? { env } : {});
  if (ran.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${ran.code}: ${ran.stderr.trim()}`);
  return ran;
}

export interface Testbed {
  dir: string;
  /** PID of the server daemon, which forks (and reaps) one process per session. */
  serverPid: number;
  url: string;
  root: string;
  proxy: string;
  certDir: string;
  gfalPython: string;
  /** The environment the grid clients need (X509_*, GFAL_PYTHONBIN). */
  env: NodeJS.ProcessEnv;
}

function testbedScript(dir: string, command: string): Promise<Ran> {
  return run('bash', [TESTBED_SCRIPT, command], {
    // Should this process die, a watchdog stops the server and removes the state dir.
    env: {
      ...process.env,
      GRIDFTP_TESTBED_DIR: dir,
      GRIDFTP_TESTBED_OWNER_PID: String(process.pid),
      GRIDFTP_TESTBED_OWNER_CLEAN: '1',
    },
  });
}

/** Starts the GSI GridFTP test bed in `dir` (a watchdog stops it should this process die). */
export async function startTestbed(dir: string): Promise<Testbed> {
  const started = await testbedScript(dir, 'start');
  if (started.code !== 0) throw new Error(`gridftp-testbed.sh start failed: ${started.stderr.trim()}`);
  const env = await testbedScript(dir, 'env');
  if (env.code !== 0) throw new Error(`gridftp-testbed.sh env failed: ${env.stderr.trim()}`);
  const vars = parseExportLines(env.stdout);
  const need = (name: string) => {
    const v = vars[name];
    if (!v) throw new Error(`gridftp-testbed.sh env printed no ${name}`);
    return v;
  };
  return {
    dir,
    serverPid: Number(readFileSync(join(dir, 'run', 'server.pid'), 'utf8').trim()),
    url: need('GRIDFTP_URL'),
    root: need('GRIDFTP_ROOT'),
    proxy: need('X509_USER_PROXY'),
    certDir: need('X509_CERT_DIR'),
    gfalPython: need('GFAL_PYTHONBIN'),
    env: {
      ...process.env,
      X509_USER_PROXY: need('X509_USER_PROXY'),
      X509_CERT_DIR: need('X509_CERT_DIR'),
      GFAL_PYTHONBIN: need('GFAL_PYTHONBIN'),
    },
  };
}

/**
 * CPU seconds (user + system) of the reaped children of `pid` (fields cutime and cstime of
 * /proc/PID/stat): for this process, every tool it ran; for the server, its sessions.
 */
export function childrenCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count the fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100; // USER_HZ is 100 on Linux
}

export async function stopTestbed(dir: string): Promise<void> {
  const stopped = await testbedScript(dir, 'stop');
  if (stopped.code !== 0) console.error(`gridftp-testbed.sh stop failed: ${stopped.stderr.trim()}`);
}

/** Bundles the pilot stand-in into `dir`, like scripts/build.mjs bundles dist/pilot.js. */
export async function bundleChild(dir: string): Promise<string> {
  const outfile = join(dir, 'stageInChild.js');
  await build({
    entryPoints: [join(__dirname, 'stageInChild.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node18',
    format: 'cjs',
    logLevel: 'warning',
  });
  return outfile;
}

export interface ChildRun extends StageInChildResult {
  /** Seconds from spawn to exit, start-up included. */
  wallSeconds: number;
}

/** Runs one stageIn in a fresh node process; `onSpawn` gets its PID (for RSS sampling). */
export async function runStageInChild(
  bundle: string,
  job: StageInChildJob,
  jobFile: string,
  onSpawn?: (pid: number) => void,
): Promise<ChildRun> {
  writeFileSync(jobFile, JSON.stringify(job));
  const ran = await run(process.execPath, [bundle, jobFile], onSpawn ? { onSpawn } : {});
  if (ran.code !== 0) throw new Error(`stage-in child exited ${ran.code}: ${ran.stderr.trim().slice(-2000)}`);
  const line = ran.stdout.trim().split('\n').pop() ?? '';
  return { ...(JSON.parse(line) as StageInChildResult), wallSeconds: ran.seconds };
}
