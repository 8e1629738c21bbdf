import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { type PilotLaunch, pilotArgs } from './pilotArgs';

export interface LocalPilotsOptions {
  count: number;
  launch: PilotLaunch;
  /** node executable (default: the one running lrt). */
  node?: string;
  pilotPath: string;
  /** Folder for pilot-<i>.log and the shared work dir. */
  dir: string;
  env: Record<string, string | undefined>;
  /** Stops every pilot (SIGTERM: they give their tokens back). */
  signal?: AbortSignal;
  /** Seconds between SIGTERM and SIGKILL when stopping (the pilot's own grace plus room). */
  killAfterSeconds?: number;
  onStart?: (pilot: { index: number; pid: number | undefined; log: string }) => void;
}

export interface LocalPilotResult {
  index: number;
  pid: number | undefined;
  log: string;
  exitCode: number | undefined;
  signal: string | undefined;
}

/** The work folder the local pilots of a job folder share (their --workdir). */
export function localPilotWorkdir(dir: string): string {
  return join(dir, 'work');
}

/** The command line of local pilot `index` (1-based): its own work dir under the run folder. */
export function localPilotCommand(
  options: Pick<LocalPilotsOptions, 'launch' | 'node' | 'pilotPath' | 'dir'>,
): string[] {
  return [
    options.node ?? process.execPath,
    options.pilotPath,
    ...pilotArgs(options.launch),
    '--workdir',
    localPilotWorkdir(options.dir),
  ];
}

/**
 * Runs `count` pilots as child processes of this one (same process group: Ctrl-C reaches them)
 * and waits for all. Each writes stdout and stderr to `<dir>/pilot-<i>.log`.
 */
export async function runLocalPilots(options: LocalPilotsOptions): Promise<LocalPilotResult[]> {
  await mkdir(localPilotWorkdir(options.dir), { recursive: true });
  const [file, ...args] = localPilotCommand(options);
  const runs = Array.from({ length: options.count }, (_, i) => {
    const index = i + 1;
    const log = join(options.dir, `pilot-${index}.log`);
    const child = execa(file!, args, {
      cwd: options.dir,
      env: options.env,
      extendEnv: false,
      stdin: 'ignore',
      stdout: { file: log, append: true },
      stderr: { file: log, append: true },
      reject: false,
      detached: false,
      cancelSignal: options.signal,
      forceKillAfterDelay: (options.killAfterSeconds ?? 60) * 1000,
    });
    options.onStart?.({ index, pid: child.pid, log });
    return child.then((r) => ({ index, pid: child.pid, log, exitCode: r.exitCode, signal: r.signal }));
  });
  return Promise.all(runs);
}
