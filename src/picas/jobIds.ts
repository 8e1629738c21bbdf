/**
 * Batch system job ids from the environment a pilot runs in, as token fields
 * (`slurm_job_id`, `dirac_job_id`, `wms_job_id`, ...), so a token shows which batch job holds it.
 * Pure: the caller passes the environment.
 */
export type JobIds = Record<string, string>;

type Env = Record<string, string | undefined>;

function present(value: string | undefined): string | undefined {
  const v = value?.trim();
  // gLite and some wrappers export "N/A" or an empty value when there is no id.
  if (!v || v === 'N/A') return undefined;
  return v;
}

/** Slurm array tasks are named `<array job>_<task>` (what squeue and sacct print and accept). */
function slurmJobId(env: Env): string | undefined {
  const task = present(env.SLURM_ARRAY_TASK_ID);
  const arrayJob = present(env.SLURM_ARRAY_JOB_ID);
  if (arrayJob && task) return `${arrayJob}_${task}`;
  const job = present(env.SLURM_JOB_ID) ?? present(env.SLURM_JOBID);
  if (job && task) return `${job}_${task}`;
  return job;
}

function withIndex(job: string | undefined, index: string | undefined): string | undefined {
  if (!job) return undefined;
  return index ? `${job}[${index}]` : job;
}

/** The job ids found in `env`, keyed by token field. Absent systems give no field. */
export function jobIdsFromEnv(env: Env): JobIds {
  const ids: Record<string, string | undefined> = {
    slurm_job_id: slurmJobId(env),
    dirac_job_id: present(env.DIRACJOBID) ?? present(env.DIRAC_JOB_ID) ?? present(env.DIRAC_JOBID),
    wms_job_id: present(env.GLITE_WMS_JOBID) ?? present(env.EDG_WL_JOBID),
    arc_job_id: present(env.GRID_GLOBAL_JOBID) ?? present(env.GRID_GLOBAL_JOBURL),
    // Torque/PBS Pro put the array index into PBS_JOBID already.
    pbs_job_id: present(env.PBS_JOBID),
    lsf_job_id: withIndex(present(env.LSB_JOBID), present(env.LSB_JOBINDEX)),
    // JOB_ID alone is too generic to trust: only when Grid Engine is really there.
    sge_job_id: present(env.SGE_ROOT) ? withIndex(present(env.JOB_ID), present(env.SGE_TASK_ID)) : undefined,
    condor_job_id: present(env.CONDOR_JOB_ID),
  };
  const out: JobIds = {};
  for (const [field, value] of Object.entries(ids)) if (value) out[field] = value;
  return out;
}

/**
 * The one id to put in an attempt record: the most specific system first (a DIRAC or WMS job
 * runs inside a site's batch job, and the grid id is the one users can look up).
 */
export function primaryJobId(ids: JobIds): string | undefined {
  const order = ['dirac_job_id', 'wms_job_id', 'arc_job_id', 'slurm_job_id', 'pbs_job_id', 'lsf_job_id'];
  for (const field of order) if (ids[field]) return ids[field];
  return Object.values(ids)[0];
}
