import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { parseExportLines } from './shellExports';

export const SLURM_TESTBED_SCRIPT = resolve(__dirname, '../../scripts/slurm-testbed.sh');
const SKIP_HINT = 'LRT_SKIP_SLURM=1 leaves the Slurm tests out of a quick local run (never in CI).';

/** The one-node Slurm of scripts/slurm-testbed.sh, started for one test file. */
export interface SlurmTestbed {
  dir: string;
  /** What sbatch, squeue and scancel need to find this cluster (SLURM_CONF). */
  env: Record<string, string>;
  /** Its per-job completion log (JobCompType=jobcomp/filetxt). */
  jobcompLog: string;
  stop(): Promise<void>;
}

/** True when the Slurm tests are to be skipped (LRT_SKIP_SLURM=1, set by hand). */
export const skipSlurm = process.env.LRT_SKIP_SLURM === '1';

async function script(dir: string, command: string, env: Record<string, string> = {}) {
  return execa('bash', [SLURM_TESTBED_SCRIPT, command], {
    env: { ...env, SLURM_TESTBED_DIR: dir },
    reject: false,
    stdin: 'ignore',
  });
}

/**
 * Starts a one-node Slurm in a fresh state dir (own ports, own munge socket: no clash with
 * another one on the machine). A watchdog stops it if this test process dies; stop() stops it and
 * removes the dir. Missing packages or no root fail the file with the hint, as GridFTP does.
 */
export async function startSlurmTestbed(): Promise<SlurmTestbed> {
  const dir = await mkdtemp(join(tmpdir(), 'lrt-slurm-'));
  const started = await script(dir, 'start', {
    SLURM_TESTBED_OWNER_PID: String(process.pid),
    SLURM_TESTBED_OWNER_CLEAN: '1',
  });
  if (started.exitCode !== 0) {
    await script(dir, 'clean');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`the Slurm test bed did not start: ${started.stderr.trim()}\n${SKIP_HINT}`);
  }
  const vars = parseExportLines((await script(dir, 'env')).stdout);
  if (!vars.SLURM_CONF) throw new Error('slurm-testbed.sh env printed no SLURM_CONF');
  return {
    dir,
    env: { SLURM_CONF: vars.SLURM_CONF },
    jobcompLog: vars.SLURM_TESTBED_JOBCOMP!,
    stop: async () => {
      await script(dir, 'clean');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
