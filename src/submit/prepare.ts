import { chmod, copyFile, mkdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LrtError } from '../core';
import type { PicasSettings } from '../picas/connectionSettings';
import { CREDENTIALS_FILE, writeCredentialsFile } from './credentials';
import { type JdlOptions, jdlDescription, PILOT_FILE, START_SCRIPT, startScript } from './jdl';
import type { PilotLaunch } from './pilotArgs';
import { type NodeRuntime, RUNTIME_FILE } from './runtime';
import { type SlurmOptions, slurmScript } from './slurm';
import { JOB_FILES } from './submission';

/** Where the pilots' credentials come from: the login settings, or a file the user made. */
export type CredentialsSource = { settings: PicasSettings } | { file: string };

export async function assertPrivateFile(path: string): Promise<void> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new LrtError(
      'E_NOT_FOUND',
      `credentials file ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.code}`,
    );
  });
  if ((info.mode & 0o077) !== 0) {
    throw new LrtError(
      'E_CONFIG',
      `credentials file ${path} is readable by others (mode ${(info.mode & 0o777).toString(8)}): chmod 600 it`,
    );
  }
}

/** Puts the credentials file at `dest` (0600): written from the settings or copied from the user's file. */
export async function placeCredentials(source: CredentialsSource, dest: string): Promise<void> {
  if ('settings' in source) return writeCredentialsFile(dest, source.settings);
  await assertPrivateFile(source.file);
  await copyFile(source.file, dest);
  await chmod(dest, 0o600);
}

/** The credentials path a pilot on the shared file system reads (Slurm, local). */
export function sharedCredentialsPath(source: CredentialsSource, dir: string): string {
  return 'file' in source ? resolve(source.file) : join(dir, CREDENTIALS_FILE);
}

/** Makes sure that file is there and private: the user's is checked, ours is written. */
export async function placeSharedCredentials(source: CredentialsSource, dir: string): Promise<void> {
  if ('file' in source) return assertPrivateFile(source.file);
  await mkdir(dir, { recursive: true });
  await writeCredentialsFile(join(dir, CREDENTIALS_FILE), source.settings);
}

export async function assertPilot(path: string): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) {
    throw new LrtError(
      'E_NOT_FOUND',
      `the pilot bundle ${path} does not exist: run 'npm run build' to make dist/pilot.js, or pass --pilot FILE`,
      { details: { pilot: path } },
    );
  }
}

export interface JdlJob {
  dir: string;
  file: string;
  text: string;
  /** The node runtime that goes into the InputSandbox. */
  runtime?: NodeRuntime;
}

/** The JDL and its InputSandbox (start script, pilot.js, credentials) for a submission from `dir`. */
export function jdlFor(
  dir: string,
  options: Omit<JdlOptions, 'inputSandbox'> & { runtime?: NodeRuntime },
): JdlJob {
  const { runtime, ...jdl } = options;
  const text = jdlDescription({
    ...jdl,
    inputSandbox: {
      startScript: join(dir, START_SCRIPT),
      pilot: join(dir, PILOT_FILE),
      credentials: join(dir, CREDENTIALS_FILE),
      ...(runtime ? { runtime: join(dir, RUNTIME_FILE) } : {}),
    },
  });
  return { dir, file: join(dir, JOB_FILES.jdl), text, runtime };
}

/** Writes the JDL job folder. The launch must name the credentials file as CREDENTIALS_FILE. */
export async function writeJdlJob(
  job: JdlJob,
  launch: PilotLaunch,
  files: { pilotPath: string; credentials: CredentialsSource; node?: string },
): Promise<void> {
  await assertPilot(files.pilotPath);
  await mkdir(job.dir, { recursive: true });
  await placeCredentials(files.credentials, join(job.dir, CREDENTIALS_FILE));
  await copyFile(files.pilotPath, join(job.dir, PILOT_FILE));
  if (job.runtime) await copyFile(job.runtime.file, join(job.dir, RUNTIME_FILE));
  await writeFile(join(job.dir, START_SCRIPT), startScript(launch, files.node, job.runtime?.sha256), {
    mode: 0o755,
  });
  await writeFile(job.file, job.text);
}

export interface SlurmJob {
  dir: string;
  file: string;
  text: string;
  logDir: string;
  runtime?: NodeRuntime;
}

/** The batch script runs the job folder's own copy of pilot.js (a rebuild on the login node cannot change a queued job). */
export function slurmFor(
  dir: string,
  options: Omit<SlurmOptions, 'logDir' | 'pilotPath' | 'runtime'> & { runtime?: NodeRuntime },
): SlurmJob {
  const { runtime, ...rest } = options;
  const logDir = join(dir, 'logs');
  const pilotPath = join(dir, PILOT_FILE);
  const shipped = runtime ? { path: join(dir, RUNTIME_FILE), sha256: runtime.sha256 } : undefined;
  const text = slurmScript({ ...rest, logDir, pilotPath, runtime: shipped });
  return { dir, file: join(dir, JOB_FILES.slurm), text, logDir, runtime };
}

export async function writeSlurmJob(job: SlurmJob, pilotPath: string): Promise<void> {
  await assertPilot(pilotPath);
  await mkdir(job.logDir, { recursive: true });
  await copyFile(pilotPath, join(job.dir, PILOT_FILE));
  if (job.runtime) await copyFile(job.runtime.file, join(job.dir, RUNTIME_FILE));
  await writeFile(job.file, job.text, { mode: 0o755 });
}
