import type { IndexBuilds } from '../picas/indexBuild';

/** One preflight check's verdict (`pilot --check`, `lrt doctor`): check.ts runs them, checkProbes.ts probes. */
export interface CheckResult {
  name: string;
  ok: boolean;
  /** Could not run (what it needs is missing or failed): neither passed nor failed. */
  skipped?: boolean;
  detail: string;
  /** A view check that met a view index being built: what `/_active_tasks` shows of it. */
  indexBuild?: IndexBuilds;
}
