import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureGridftpTestbed } from './gridftp';

/**
 * One GSI GridFTP server for the whole run (scripts/gridftp-testbed.sh). A missing Globus/gfal
 * install fails the run (CI must skip nothing) unless LRT_SKIP_GRIDFTP=1 is set explicitly.
 * Each run gets its own state dir, so parallel runs do not stop each other's server;
 * GRIDFTP_TESTBED_DIR points at a shared one instead (left running if it already was).
 */
export default async function setup(project: TestProject) {
  if (process.env.LRT_SKIP_GRIDFTP === '1') {
    project.provide('gridftp', null);
    return;
  }
  const shared = process.env.GRIDFTP_TESTBED_DIR;
  const dir = shared ?? (await mkdtemp(join(tmpdir(), 'lrt-gridftp-')));
  const running = await ensureGridftpTestbed(dir, {
    ownerPid: process.pid,
    removeWithOwner: !shared,
  }).catch(async (err) => {
    if (!shared) await rm(dir, { recursive: true, force: true });
    throw err;
  });
  project.provide('gridftp', running.testbed);
  return async () => {
    if (running.startedHere) await running.stop();
    if (!shared) await rm(dir, { recursive: true, force: true });
  };
}
