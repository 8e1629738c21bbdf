import { createHash } from 'node:crypto';
import {
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COMPLETE_MARKER,
  prepareSandbox,
  sandboxCacheKey,
  TREE_DIR,
  tarballVersion,
} from '../../src/sandbox';
import { type RawEntry, writeTar } from '../helpers/tarFixtures';
import { startTarServer, type TarServer } from './support/tarServer';

const CHILD_SOURCE = join(__dirname, 'support', 'prepareChild.ts');

const SANDBOX: RawEntry[] = [
  { path: 'master.sh', body: '#!/bin/bash\necho "pilot payload"\n', mode: 0o755 },
  { path: 'bin/', type: 'dir' },
  { path: 'bin/setup.sh', body: 'export X=1\n', mode: 0o644 },
  { path: 'run', type: 'symlink', linkpath: 'master.sh' },
];

let root: string;
let server: TarServer;
let tarBytes: Buffer;
let childBundle: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lrt-cache-'));
  // Bundled like dist/pilot.js (tsx cannot load the ESM-only execa from this CommonJS package).
  childBundle = join(root, 'prepareChild.js');
  await build({
    entryPoints: [CHILD_SOURCE],
    outfile: childBundle,
    bundle: true,
    platform: 'node',
    target: 'node18',
    format: 'cjs',
    logLevel: 'warning',
  });
  tarBytes = await writeTar(join(root, 'sandbox.tar.gz'), SANDBOX, { gzip: true });
  server = await startTarServer();
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

let serial = 0;
/** A fresh URL path served with the sandbox (own count), a fresh cache and job parent. */
async function scenario(delayMs = 0) {
  const path = `/sbx/${++serial}/sandbox.tar.gz`;
  server.routes.set(path, { body: tarBytes, delayMs });
  const dir = await mkdtemp(join(root, 'case-'));
  const url = server.url(path);
  const cacheDir = join(dir, 'cache');
  const key = sandboxCacheKey({ kind: 'tarball', url }, await tarballVersion(url));
  return { path, url, dir, cacheDir, key, lockPath: join(cacheDir, `${key}.lock`) };
}

async function expectJob(jobDir: string) {
  const master = SANDBOX[0]!;
  expect(await readFile(join(jobDir, 'master.sh'), 'utf8')).toBe(master.body);
  expect((await stat(join(jobDir, 'master.sh'))).mode & 0o100).toBe(0o100);
  expect(await readFile(join(jobDir, 'bin', 'setup.sh'), 'utf8')).toBe(SANDBOX[2]!.body);
}

describe('node cache: N pilots download once', () => {
  it('8 concurrent prepareSandbox calls in one process make exactly 1 request', async () => {
    const s = await scenario(300);
    const jobs = Array.from({ length: 8 }, (_, i) => join(s.dir, `job${i}`, 'work'));
    const results = await Promise.all(
      jobs.map((jobDir) =>
        prepareSandbox({
          source: { kind: 'tarball', url: s.url },
          cacheDir: s.cacheDir,
          jobDir,
          lock: { pollMs: 10 },
        }),
      ),
    );
    expect(server.count(s.path)).toBe(1);
    expect(results.filter((r) => !r.fromCache)).toHaveLength(1);
    for (const jobDir of jobs) await expectJob(jobDir);
    const sha = createHash('sha256').update(tarBytes).digest('hex');
    expect(results.every((r) => r.sha256 === sha)).toBe(true);
    const marker = JSON.parse(await readFile(join(s.cacheDir, s.key, COMPLETE_MARKER), 'utf8'));
    expect(marker.sha256).toBe(sha);
    // Only the entry is left: no lock, no work dirs.
    expect(await readdir(s.cacheDir)).toEqual([s.key]);
  });

  it('several real processes sharing the cache make exactly 1 request', async () => {
    const s = await scenario(500);
    const startAt = Date.now() + 1500; // past node start-up, so they really race
    const children = Array.from({ length: 4 }, (_, i) =>
      execa('node', [childBundle, s.url, s.cacheDir, join(s.dir, `job${i}`), String(startAt)]),
    );
    const outputs = await Promise.all(children);
    const results = outputs.map((o) => JSON.parse(o.stdout) as { fromCache: boolean; pid: number });
    expect(new Set(results.map((r) => r.pid)).size).toBe(4);
    expect(server.count(s.path)).toBe(1);
    expect(results.filter((r) => !r.fromCache)).toHaveLength(1);
    for (let i = 0; i < 4; i++) await expectJob(join(s.dir, `job${i}`));
  });

  it('a job copy is separate from the cache: a payload editing it spoils nothing', async () => {
    const s = await scenario();
    const first = join(s.dir, 'job1');
    await prepareSandbox({ source: { kind: 'tarball', url: s.url }, cacheDir: s.cacheDir, jobDir: first });
    await writeFile(join(first, 'master.sh'), 'rm -rf everything\n');
    await writeFile(join(first, 'bin', 'setup.sh'), 'broken\n');
    const second = join(s.dir, 'job2');
    const again = await prepareSandbox({
      source: { kind: 'tarball', url: s.url },
      cacheDir: s.cacheDir,
      jobDir: second,
    });
    expect(again.fromCache).toBe(true);
    await expectJob(second);
    expect(await readFile(join(s.cacheDir, s.key, TREE_DIR, 'master.sh'), 'utf8')).toBe(SANDBOX[0]!.body);
    // The link stays relative inside the job dir instead of pointing into the cache.
    expect(await readlink(join(second, 'run'))).toBe('master.sh');
    expect(server.count(s.path)).toBe(1);
  });
});

describe('node cache lock', () => {
  async function deadPid(): Promise<number> {
    const child = await execa('node', ['-e', 'process.stdout.write(String(process.pid))']);
    return Number(child.stdout);
  }

  async function writeLock(path: string, pid: number, ageMs = 0) {
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(
      path,
      JSON.stringify({ pid, host: hostname(), nonce: 'old', created: Date.now() - ageMs }),
    );
    if (ageMs) {
      const then = new Date(Date.now() - ageMs);
      await utimes(path, then, then);
    }
  }

  it('breaks a lock whose holder pid is gone', async () => {
    const s = await scenario();
    await writeLock(s.lockPath, await deadPid());
    const started = Date.now();
    const result = await prepareSandbox({
      source: { kind: 'tarball', url: s.url },
      cacheDir: s.cacheDir,
      jobDir: join(s.dir, 'job'),
    });
    expect(result.fromCache).toBe(false);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(server.count(s.path)).toBe(1);
    expect(await readdir(s.cacheDir)).toEqual([s.key]);
  });

  it('breaks a lock of a live process that was not refreshed for longer than staleMs', async () => {
    const s = await scenario();
    await writeLock(s.lockPath, process.pid, 60 * 60_000);
    const result = await prepareSandbox({
      source: { kind: 'tarball', url: s.url },
      cacheDir: s.cacheDir,
      jobDir: join(s.dir, 'job'),
      lock: { staleMs: 10 * 60_000 },
    });
    expect(result.fromCache).toBe(false);
    expect(server.count(s.path)).toBe(1);
    expect(await readdir(s.cacheDir)).toEqual([s.key]);
  });

  it('waits on a live fresh lock and stops when the signal aborts', async () => {
    const s = await scenario();
    await writeLock(s.lockPath, process.pid);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('pilot stopping')), 400);
    const started = Date.now();
    const err = await prepareSandbox({
      source: { kind: 'tarball', url: s.url },
      cacheDir: s.cacheDir,
      jobDir: join(s.dir, 'job'),
      signal: controller.signal,
      lock: { pollMs: 20 },
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('pilot stopping');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(server.count(s.path)).toBe(0);
    // A live holder's lock is left alone.
    expect(JSON.parse(await readFile(s.lockPath, 'utf8')).nonce).toBe('old');
  });

  it('a waiter reuses the entry once the holder finishes', async () => {
    const s = await scenario();
    await writeLock(s.lockPath, process.pid);
    const waiting = prepareSandbox({
      source: { kind: 'tarball', url: s.url },
      cacheDir: s.cacheDir,
      jobDir: join(s.dir, 'waiter'),
      lock: { pollMs: 20 },
    });
    await new Promise((r) => setTimeout(r, 200));
    // The "holder" finishes: builds the entry itself (another pilot's job) and drops the lock.
    const built = await prepareSandbox({
      source: { kind: 'tarball', url: s.url },
      cacheDir: join(s.dir, 'other-cache'),
      jobDir: join(s.dir, 'holder'),
    });
    await cp(join(s.dir, 'other-cache', s.key), join(s.cacheDir, 'incoming'), {
      recursive: true,
      verbatimSymlinks: true,
    });
    await rename(join(s.cacheDir, 'incoming'), join(s.cacheDir, s.key));
    await rm(s.lockPath);
    const result = await waiting;
    expect(built.fromCache).toBe(false);
    expect(result.fromCache).toBe(true);
    await expectJob(join(s.dir, 'waiter'));
    expect(server.count(s.path)).toBe(1);
  });
});
