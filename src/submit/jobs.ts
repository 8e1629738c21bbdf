import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { execa } from 'execa';
import { countOf, LrtError } from '../core';
import {
  type JobStatus,
  parseArcStatus,
  parseDiracStatus,
  parseGliteStatus,
  parseSacct,
  parseSqueue,
} from './jobStates';
import { localPilotWorkdir } from './local';
import type { Submission } from './submission';

/**
 * `lrt jobs`: the jobs of one submission through the tool of its backend (squeue/sacct/scancel
 * for Slurm, the gLite, DIRAC or ARC clients for grid jobs). Each tool runs with argument arrays;
 * a tool that is not installed is a clear E_TOOL_MISSING naming it.
 */

type Env = Record<string, string | undefined>;

interface GridTool {
  status: string;
  statusArgs: string[];
  parse: (stdout: string) => JobStatus[];
  cancel: string;
  cancelArgs: string[];
  output: string;
  outputArgs: (dir: string) => string[];
}

const GRID_TOOLS: Record<string, GridTool> = {
  'glite-wms-job-submit': {
    status: 'glite-wms-job-status',
    statusArgs: ['--noint'],
    parse: parseGliteStatus,
    cancel: 'glite-wms-job-cancel',
    cancelArgs: ['--noint'],
    output: 'glite-wms-job-output',
    outputArgs: (dir) => ['--noint', '--dir', dir],
  },
  'dirac-wms-job-submit': {
    status: 'dirac-wms-job-status',
    statusArgs: [],
    parse: parseDiracStatus,
    cancel: 'dirac-wms-job-kill',
    cancelArgs: [],
    output: 'dirac-wms-job-get-output',
    outputArgs: (dir) => ['--Dir', dir],
  },
  arcsub: {
    status: 'arcstat',
    statusArgs: [],
    parse: parseArcStatus,
    cancel: 'arckill',
    cancelArgs: [],
    output: 'arcget',
    outputArgs: (dir) => ['-D', dir],
  },
};

function gridTool(submission: Submission): GridTool {
  const tool = GRID_TOOLS[submission.tool ?? ''];
  if (!tool) {
    throw new LrtError(
      'E_CONFIG',
      `${submission.dir}/submission.json: no job tool known for backend ${submission.backend} submitted with ${submission.tool ?? 'nothing'}`,
    );
  }
  return tool;
}

async function run(file: string, args: string[], env: Env) {
  const result = await execa(file, args, {
    env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: 300_000,
  });
  const code = (result as { code?: string }).code;
  if (code === 'ENOENT' || code === 'EACCES') {
    throw new LrtError('E_TOOL_MISSING', `${file} is not installed here (${code}): run lrt jobs where it is`);
  }
  return {
    exitCode: result.exitCode,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
  };
}

function failed(file: string, result: { exitCode?: number; stderr: string; stdout: string }): LrtError {
  const tail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-3).join(' | ');
  return new LrtError('E_PAYLOAD', `${file} failed (exit ${result.exitCode}): ${tail}`);
}

export interface JobsStatus {
  jobs: JobStatus[];
  /** Where the states came from, e.g. "squeue" or "sacct". */
  source: string;
  /** Jobs no tool could report any more (Slurm forgets finished jobs after MinJobAge without accounting). */
  gone: string[];
}

/** Every job of the submission with its state. */
export async function jobsStatus(submission: Submission, env: Env): Promise<JobsStatus> {
  if (submission.backend === 'slurm') return slurmStatus(submission, env);
  if (submission.backend === 'local') return localStatus(submission);
  const tool = gridTool(submission);
  const result = await run(tool.status, [...tool.statusArgs, ...submission.jobIds], env);
  if (result.exitCode !== 0) throw failed(tool.status, result);
  const jobs = tool.parse(result.stdout);
  const seen = new Set(jobs.map((j) => j.id));
  return { jobs, source: tool.status, gone: submission.jobIds.filter((id) => !seen.has(id)) };
}

async function slurmStatus(submission: Submission, env: Env): Promise<JobsStatus> {
  const ids = submission.jobIds.join(',');
  const squeue = await run('squeue', ['-h', '-r', '-t', 'all', '-j', ids, '-o', '%i|%T|%M|%R'], env);
  // squeue exits 1 for ids it no longer knows ("Invalid job id specified").
  const jobs = squeue.exitCode === 0 ? parseSqueue(squeue.stdout) : [];
  if (jobs.length > 0) return { jobs, source: 'squeue', gone: [] };
  const sacct = await run('sacct', ['-n', '-P', '-X', '-j', ids, '-o', 'JobID,State,ExitCode'], env);
  if (sacct.exitCode === 0 && sacct.stdout.trim())
    return { jobs: parseSacct(sacct.stdout), source: 'sacct', gone: [] };
  return { jobs: [], source: 'squeue', gone: submission.jobIds };
}

/**
 * Whether `pid` is still a pilot of the submission: its command line holds the submission's work
 * folder. A pid alone is not enough: the system gives the pids of ended pilots to new processes.
 */
async function isLocalPilotOf(pid: string, submission: Submission): Promise<boolean> {
  if (!/^\d+$/.test(pid)) return false;
  const args = await readFile(`/proc/${pid}/cmdline`, 'utf8').then(
    (text) => text.split('\0'),
    () => [] as string[],
  );
  return args.includes(localPilotWorkdir(submission.dir));
}

/** Local pilots ran under lrt submit; a pid that is still one of its pilots is running. */
async function localStatus(submission: Submission): Promise<JobsStatus> {
  const jobs: JobStatus[] = [];
  for (const pid of submission.jobIds) {
    const alive = await isLocalPilotOf(pid, submission);
    jobs.push({
      id: pid,
      state: alive ? 'running' : 'done',
      detail: alive ? 'process alive' : 'process ended',
    });
  }
  return { jobs, source: 'process table', gone: [] };
}

export interface CancelResult {
  /** The jobs the cancel reached (local: the pilots still running). */
  cancelled: string[];
  /** The tool's words, or what was done. */
  output: string;
}

/** Cancels every job of the submission. */
export async function cancelJobs(submission: Submission, env: Env): Promise<CancelResult> {
  if (submission.backend === 'local') {
    const cancelled: string[] = [];
    for (const pid of submission.jobIds) {
      if (!(await isLocalPilotOf(pid, submission))) continue;
      try {
        process.kill(Number(pid), 'SIGTERM');
        cancelled.push(pid);
      } catch {
        // ended meanwhile
      }
    }
    const ended = submission.jobIds.length - cancelled.length;
    return {
      cancelled,
      output:
        cancelled.length === 0
          ? `no local pilot of this submission is running (${ended} ended): nothing to cancel`
          : `SIGTERM sent to ${countOf(cancelled.length, 'local pilot')}${ended ? ` (${ended} had ended)` : ''}`,
    };
  }
  const [file, args] =
    submission.backend === 'slurm'
      ? ['scancel', submission.jobIds]
      : [gridTool(submission).cancel, [...gridTool(submission).cancelArgs, ...submission.jobIds]];
  const result = await run(file, args, env);
  if (result.exitCode !== 0) throw failed(file, result);
  return {
    cancelled: submission.jobIds,
    output: (result.stdout.trim() || `${file}: ${submission.jobIds.join(' ')}`).trim(),
  };
}

export interface PilotLog {
  /** Array task (Slurm) or pilot index (local). */
  task: string;
  file: string;
  text: string;
}

/**
 * The pilots' logs. Slurm and local: the files in the job folder (`logs/pilot-<job>_<task>.log`,
 * `pilot-<i>.log`), the last `lines` of each, or all of one task. Grid: the output sandboxes,
 * fetched into `<dir>/output` with the grid tool, then read the same way.
 */
export async function pilotLogs(
  submission: Submission,
  env: Env,
  options: { task?: string; lines: number },
): Promise<{ logs: PilotLog[]; fetched?: string }> {
  let fetched: string | undefined;
  let dir: string;
  // The task a log file belongs to, or undefined for a file that is no pilot log.
  let taskOf: (file: string) => string | undefined;
  if (submission.backend === 'slurm') {
    dir = join(submission.dir, submission.files.logs ?? 'logs');
    taskOf = (file) => /^pilot-\d+_(\d+)\.log$/.exec(basename(file))?.[1];
  } else if (submission.backend === 'local') {
    dir = submission.dir;
    taskOf = (file) => /^pilot-(\d+)\.log$/.exec(basename(file))?.[1];
  } else {
    const tool = gridTool(submission);
    dir = join(submission.dir, 'output');
    const result = await run(tool.output, [...tool.outputArgs(dir), ...submission.jobIds], env);
    if (result.exitCode !== 0) throw failed(tool.output, result);
    fetched = result.stdout.trim();
    // one folder per job, named after it by the tool
    taskOf = (file) =>
      /^parametricjob\.(?:out|err)$/.test(basename(file)) ? basename(dirname(file)) : undefined;
  }
  const logs: PilotLog[] = [];
  for (const file of await filesUnder(dir)) {
    const task = taskOf(file);
    if (task === undefined || (options.task !== undefined && task !== options.task)) continue;
    const text = await readFile(file, 'utf8');
    logs.push({ task, file, text: options.task !== undefined ? text : tail(text, options.lines) });
  }
  logs.sort((a, b) => Number(a.task) - Number(b.task) || a.file.localeCompare(b.file));
  if (options.task !== undefined && logs.length === 0) {
    throw new LrtError('E_NOT_FOUND', `no log of task ${options.task} under ${dir}`);
  }
  return { logs, fetched };
}

function tail(text: string, lines: number): string {
  const all = text.replace(/\n$/, '').split('\n');
  return all.slice(-lines).join('\n');
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  const out: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** Job folders under `root` (one level, then one more: lrt-jobs/<name>/submission.json). */
export async function submissionFolders(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new LrtError('E_NOT_FOUND', `${root}: no such folder (pass --root DIR)`);
    throw err;
  });
  const out: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const dir = join(root, entry.name);
    if (
      await stat(join(dir, 'submission.json')).then(
        () => true,
        () => false,
      )
    )
      out.push(dir);
  }
  return out.sort();
}
