import { mkdtemp } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { inject } from 'vitest';
import { parseExportLines } from './shellExports';

export { parseExportLines };

/** The loopback GSI GridFTP server of scripts/gridftp-testbed.sh, as the tests see it. */
export interface GridftpTestbed {
  dir: string;
  /** `gsiftp://127.0.0.1:PORT` (append an absolute path under `root`). */
  url: string;
  port: number;
  /** Directory the tests may write to, served by the server under the same path. */
  root: string;
  certDir: string;
  /** A valid proxy of the mapped user. */
  proxy: string;
  expiredProxy: string;
  /** A valid proxy whose DN is not in the grid-mapfile. */
  unmappedProxy: string;
  /** A valid proxy with a VOMS attribute certificate for lofar (24 h). */
  vomsProxy: string;
  gfalPython: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** null only when LRT_SKIP_GRIDFTP=1 was set for a quick local run. */
    gridftp: GridftpTestbed | null;
  }
}

export const GRIDFTP_TESTBED_SCRIPT = resolve(__dirname, '../../scripts/gridftp-testbed.sh');
const SKIP_HINT = 'LRT_SKIP_GRIDFTP=1 leaves the GridFTP tests out of a quick local run (never in CI).';

async function script(dir: string, command: string, env: Record<string, string> = {}) {
  return execa('bash', [GRIDFTP_TESTBED_SCRIPT, command], {
    env: { ...env, GRIDFTP_TESTBED_DIR: dir },
    reject: false,
    stdin: 'ignore',
  });
}

function need(vars: Record<string, string>, name: string): string {
  const value = vars[name];
  if (!value) throw new Error(`gridftp-testbed.sh env printed no ${name}`);
  return value;
}

export interface RunningTestbed {
  testbed: GridftpTestbed;
  /** True when this call started the server (so the caller should stop it). */
  startedHere: boolean;
  stop(): Promise<void>;
}

export interface EnsureOptions {
  /** A server started now is stopped by a watchdog when this process dies (a killed test run). */
  ownerPid?: number;
  /** The watchdog also removes `dir` (a per-run temp dir). */
  removeWithOwner?: boolean;
}

/** The test bed in `dir`: started (PKI made first) unless its server already runs. */
export async function ensureGridftpTestbed(
  dir: string,
  options: EnsureOptions = {},
): Promise<RunningTestbed> {
  const status = await script(dir, 'status');
  let startedHere = false;
  if (status.exitCode !== 0) {
    const started = await script(dir, 'start', {
      ...(options.ownerPid ? { GRIDFTP_TESTBED_OWNER_PID: String(options.ownerPid) } : {}),
      ...(options.removeWithOwner ? { GRIDFTP_TESTBED_OWNER_CLEAN: '1' } : {}),
    });
    if (started.exitCode !== 0) {
      await script(dir, 'stop');
      throw new Error(`the GridFTP test bed did not start: ${started.stderr.trim()}\n${SKIP_HINT}`);
    }
    startedHere = true;
  }
  const env = await script(dir, 'env');
  if (env.exitCode !== 0) throw new Error(`gridftp-testbed.sh env failed: ${env.stderr.trim()}`);
  const vars = parseExportLines(env.stdout);
  const testbed: GridftpTestbed = {
    dir,
    url: need(vars, 'GRIDFTP_URL'),
    port: Number(need(vars, 'GRIDFTP_PORT')),
    root: need(vars, 'GRIDFTP_ROOT'),
    certDir: need(vars, 'X509_CERT_DIR'),
    proxy: need(vars, 'X509_USER_PROXY'),
    expiredProxy: need(vars, 'LRT_TESTBED_EXPIRED_PROXY'),
    unmappedProxy: need(vars, 'LRT_TESTBED_UNMAPPED_PROXY'),
    vomsProxy: need(vars, 'LRT_TESTBED_VOMS_PROXY'),
    gfalPython: need(vars, 'GFAL_PYTHONBIN'),
  };
  return {
    testbed,
    startedHere,
    stop: async () => {
      const stopped = await script(dir, 'stop');
      if (stopped.exitCode !== 0) throw new Error(`gridftp-testbed.sh stop failed: ${stopped.stderr.trim()}`);
    },
  };
}

/** The test bed the globalSetup started; undefined only under LRT_SKIP_GRIDFTP=1. */
export function gridftpTestbed(): GridftpTestbed | undefined {
  return inject('gridftp') ?? undefined;
}

/** A fresh directory under the served root, and its gsiftp URL. */
export async function gridftpWorkDir(
  testbed: GridftpTestbed,
  prefix = 'test-',
): Promise<{ path: string; url: string }> {
  const path = await mkdtemp(join(testbed.root, prefix));
  return { path, url: `${testbed.url}${path}` };
}
