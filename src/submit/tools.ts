import { basename } from 'node:path';
import { execa } from 'execa';
import { LrtError } from '../core';

/** Job submission tools, each with how it is called and how its job ids are read back. */
export type Submitter = 'sbatch' | 'glite-wms-job-submit' | 'dirac-wms-job-submit';

export const JDL_SUBMITTERS: Submitter[] = ['dirac-wms-job-submit', 'glite-wms-job-submit'];

export function submitterArgs(tool: Submitter, file: string): string[] {
  switch (tool) {
    case 'sbatch':
      return ['--parsable', file];
    case 'glite-wms-job-submit':
      // -a: delegate the proxy automatically (GRID_LRT used a delegation made beforehand with -d).
      return ['-a', file];
    case 'dirac-wms-job-submit':
      return [file];
  }
}

/** The job ids a submission tool printed. */
export function parseJobIds(tool: Submitter, stdout: string): string[] {
  switch (tool) {
    case 'sbatch': {
      // --parsable: "<jobid>[;<cluster>]".
      const id = stdout.trim().split('\n').at(-1)?.split(';')[0]?.trim();
      return id && /^\d+$/.test(id) ? [id] : [];
    }
    case 'glite-wms-job-submit': {
      // "Connecting to the service https://<wms>:7443/glite_wms_wmproxy_server" comes first; the
      // id (one, also for a parametric job: its parent) is the first job URL after the marker.
      const at = stdout.search(/job identifier is:/i);
      if (at < 0) return [];
      const id = [...stdout.slice(at).matchAll(/https:\/\/[^\s/]+\/[^\s/]+(?=\s|$)/g)]
        .map((m) => m[0])
        .find((url) => !url.endsWith('/glite_wms_wmproxy_server'));
      return id ? [id] : [];
    }
    case 'dirac-wms-job-submit': {
      const m = /JobID\s*=\s*\[?([\d,\s]+)\]?/.exec(stdout);
      return m ? m[1]!.split(/[,\s]+/).filter(Boolean) : [];
    }
  }
}

export function toolOf(path: string): Submitter | undefined {
  const name = basename(path);
  return (['sbatch', 'glite-wms-job-submit', 'dirac-wms-job-submit'] as const).find((t) => t === name);
}

/** Is `tool` (a name on PATH or a path) runnable here? */
export async function haveTool(tool: string, env: Record<string, string | undefined>): Promise<boolean> {
  const result = await execa('sh', ['-c', 'command -v "$1"', 'sh', tool], {
    reject: false,
    env,
    extendEnv: false,
  });
  return result.exitCode === 0;
}

export interface SubmitOutcome {
  tool: string;
  jobIds: string[];
  stdout: string;
}

/**
 * Runs the submission tool on the written job file (cwd: its folder). A failure is E_SUBMIT-like
 * E_TOOL_MISSING / E_PAYLOAD with the tool's stderr tail; the caller says where the files are.
 */
export async function runSubmitter(
  tool: Submitter,
  executable: string,
  file: string,
  options: { cwd: string; env: Record<string, string | undefined> },
): Promise<SubmitOutcome> {
  const result = await execa(executable, submitterArgs(tool, file), {
    cwd: options.cwd,
    env: options.env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
  });
  const code = (result as { code?: string }).code;
  if (code === 'ENOENT' || code === 'EACCES') {
    throw new LrtError(
      'E_TOOL_MISSING',
      `${executable} cannot be run (${code}): ${file} was written, submit it by hand`,
    );
  }
  const stdout = String(result.stdout ?? '');
  if (result.exitCode !== 0) {
    const tail = String(result.stderr ?? '')
      .trim()
      .split('\n')
      .slice(-5)
      .join(' | ');
    throw new LrtError(
      'E_PAYLOAD',
      `${executable} ${basename(file)} failed (exit ${result.exitCode ?? result.signal}): ${tail || stdout.trim().slice(-400)}`,
      { details: { tool, file } },
    );
  }
  const jobIds = parseJobIds(tool, stdout);
  if (jobIds.length === 0) {
    throw new LrtError(
      'E_PAYLOAD',
      `${executable} printed no job id for ${file}: ${stdout.trim().slice(-400)}`,
    );
  }
  return { tool, jobIds, stdout };
}

/** `arcsub` prints "Job submitted with jobid: <id>" per job (other lines may be ERROR noise). */
export function parseArcJobIds(stdout: string): string[] {
  return [...stdout.matchAll(/^Job submitted with jobid:\s*(\S+)\s*$/gm)].map((m) => m[1]!);
}
