import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * One folder per attempt: `work/` is the payload's cwd ($JOBDIR); the pilot's own files sit
 * beside it, where a payload cannot clobber them.
 */
export interface JobDir {
  root: string;
  work: string;
  stdout: string;
  stderr: string;
  pilotLog: string;
  statusFile: string;
}

export async function createJobDir(parent: string, tokenId: string, attempt: number): Promise<JobDir> {
  await mkdir(parent, { recursive: true });
  const safe = tokenId.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 80);
  const root = await mkdtemp(join(parent, `lrt-${safe}-a${attempt}-`));
  const work = join(root, 'work');
  await mkdir(work);
  return {
    root,
    work,
    stdout: join(root, 'stdout.log'),
    stderr: join(root, 'stderr.log'),
    pilotLog: join(root, 'pilot.log'),
    statusFile: join(work, 'pipeline_status'),
  };
}

export async function removeJobDir(dir: JobDir): Promise<void> {
  await rm(dir.root, { recursive: true, force: true });
}

/** The last `max` bytes of a file (whole when smaller); missing files read as empty. */
export async function readTail(path: string, max: number): Promise<{ bytes: Buffer; truncated: boolean }> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch {
    return { bytes: Buffer.alloc(0), truncated: false };
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, max);
    const bytes = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(bytes, filled, length - filled, size - length + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return { bytes: bytes.subarray(0, filled), truncated: size > length };
  } finally {
    await handle.close();
  }
}
