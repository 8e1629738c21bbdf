import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileProblem, LrtError } from '../core';

/** The record every submission leaves in its job folder, read back by `lrt jobs`. */
export const SUBMISSION_FILE = 'submission.json';

/** The job description lrt submit writes in the job folder, per backend. */
export const JOB_FILES = { jdl: 'pilots.jdl', slurm: 'pilots.slurm' } as const;

export const SUBMISSION_BACKENDS = ['jdl', 'slurm', 'local'] as const;
export type SubmissionBackend = (typeof SUBMISSION_BACKENDS)[number];

export interface Submission {
  version: 1;
  backend: SubmissionBackend;
  /** The tool that took the job: sbatch, glite-wms-job-submit, dirac-wms-job-submit; none for local. */
  tool?: string;
  /** JDL dialect written (jdl backend). */
  flavour?: string;
  /** What the tool returned: one array job id (Slurm), one id per job or a parametric parent (grid). */
  jobIds: string[];
  /** Pilots asked for. */
  count: number;
  type: string;
  database: string;
  /** PiCaS URL without credentials. */
  url: string;
  /** ISO time of the submission. */
  submittedAt: string;
  /** Absolute job folder. */
  dir: string;
  /** Files of the submission, relative to dir. */
  files: Record<string, string>;
}

export async function writeSubmission(submission: Submission): Promise<string> {
  const path = join(submission.dir, SUBMISSION_FILE);
  await writeFile(path, `${JSON.stringify(submission, null, 2)}\n`);
  return path;
}

/** Reads and checks `<dir>/submission.json`; a clear error names the file and what is wrong. */
export async function readSubmission(dir: string): Promise<Submission> {
  const path = join(dir, SUBMISSION_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LrtError(
      'E_NOT_FOUND',
      code === 'ENOENT' ? noSubmission(dir) : `${path}: cannot read it: ${fileProblem(err)}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new LrtError('E_CONFIG', `${path}: not JSON (${(err as Error).message})`);
  }
  const problem = submissionProblem(value);
  if (problem) throw new LrtError('E_CONFIG', `${path}: ${problem}`);
  return value as Submission;
}

/** Why a folder has no submission.json: a job written but never submitted, or no job folder at all. */
function noSubmission(dir: string): string {
  const written = Object.values(JOB_FILES).find((file) => existsSync(join(dir, file)));
  return written
    ? `${join(dir, SUBMISSION_FILE)}: no such file: lrt submit wrote ${written} here but did not submit it ` +
        '(--no-submit, or no submission tool), so there are no job ids to follow'
    : `${join(dir, SUBMISSION_FILE)}: no such file (not a job folder written by lrt submit)`;
}

function submissionProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const v = value as Record<string, unknown>;
  if (v.version !== 1) return `version ${JSON.stringify(v.version)} is not 1`;
  if (!(SUBMISSION_BACKENDS as readonly unknown[]).includes(v.backend))
    return `backend ${JSON.stringify(v.backend)} is not one of ${SUBMISSION_BACKENDS.join(', ')}`;
  if (!Array.isArray(v.jobIds) || !v.jobIds.every((id) => typeof id === 'string'))
    return 'jobIds is not a list of strings';
  for (const key of ['type', 'database', 'url', 'submittedAt', 'dir'] as const) {
    if (typeof v[key] !== 'string') return `${key} is missing or not a string`;
  }
  if (typeof v.count !== 'number') return 'count is missing or not a number';
  if (typeof v.files !== 'object' || v.files === null) return 'files is missing';
  return undefined;
}
