import { execa } from 'execa';

/**
 * The end of the batch job from the batch system, for a pilot that was given no --walltime.
 * Slurm 22.05 exports no SLURM_JOB_END_TIME (settings.ts reads it where it is set), so the pilot
 * asks squeue for the time its own task has left (`%L`, relative: no time zone to get wrong).
 */

/** Seconds in squeue's `%L` (`[D-]HH:MM:SS`, `MM:SS`), undefined for UNLIMITED, NOT_SET, INVALID. */
export function parseSlurmTimeLeft(text: string): number | undefined {
  const m = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$/.exec(text.trim());
  if (!m) return undefined;
  const [, d, h, min, s] = m;
  return Number(d ?? 0) * 86400 + Number(h ?? 0) * 3600 + Number(min) * 60 + Number(s);
}

/** The id squeue knows this task by: `<array job>_<task>` for an array task, else the job id. */
export function slurmTaskId(env: Record<string, string | undefined>): string | undefined {
  if (env.SLURM_ARRAY_JOB_ID && env.SLURM_ARRAY_TASK_ID)
    return `${env.SLURM_ARRAY_JOB_ID}_${env.SLURM_ARRAY_TASK_ID}`;
  return env.SLURM_JOB_ID || undefined;
}

export interface BatchWalltime {
  /** Epoch ms the job is killed at; undefined when it has no limit or the query failed. */
  end: number | undefined;
  /** Why no end is known, for a log line. */
  note?: string;
}

/** Asks squeue how long this Slurm task has left. Not in a Slurm job: nothing asked. */
export async function slurmWalltimeEnd(
  env: Record<string, string | undefined>,
  now: () => number,
): Promise<BatchWalltime | undefined> {
  const id = slurmTaskId(env);
  if (!id) return undefined;
  const result = await execa('squeue', ['-h', '-t', 'all', '-j', id, '-o', '%L'], {
    env,
    extendEnv: false,
    reject: false,
    timeout: 30_000,
    stdin: 'ignore',
  });
  if (result.exitCode !== 0) {
    const why = String(result.stderr || (result as { code?: string }).code || result.exitCode).trim();
    return { end: undefined, note: `squeue -j ${id} failed (${why.slice(0, 200)}): no walltime known` };
  }
  const left = parseSlurmTimeLeft(String(result.stdout).split('\n')[0] ?? '');
  if (left === undefined) return { end: undefined }; // UNLIMITED
  return { end: now() + left * 1000 };
}
