import { mkdtemp, readdir, readFile, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core';
import { createSandboxPreparer } from '../../src/pilot/sandboxStep';
import { prepareSandbox, tarballVersion } from '../../src/sandbox';
import { type GridftpTestbed, gridftpTestbed, gridftpWorkDir } from '../helpers/gridftp';
import { type RawEntry, writeTar } from '../helpers/tarFixtures';
import { startTarServer, type TarServer } from './support/tarServer';

/* A sandbox replaced at the same URL is noticed before it is used: the old cache entry never runs. */

const master = (text: string): RawEntry => ({
  path: 'master.sh',
  body: `#!/bin/bash\necho "${text}"\n`,
  mode: 0o755,
});

let root: string;
let server: TarServer;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lrt-fresh-'));
  server = await startTarServer();
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

async function caseDir() {
  const dir = await mkdtemp(join(root, 'case-'));
  let job = 0;
  return { dir, cacheDir: join(dir, 'cache'), nextJob: () => join(dir, `job${++job}`) };
}

const masterOf = (jobDir: string) => readFile(join(jobDir, 'master.sh'), 'utf8');

describe('fresh sandboxes: file://', () => {
  it('a tarball overwritten with the same size and mtime is fetched again; an unchanged one is not', async () => {
    const { dir, cacheDir, nextJob } = await caseDir();
    const archive = join(dir, 'sandbox.tar');
    const url = pathToFileURL(archive).toString();
    await writeTar(archive, [master('version one')]);
    const fixed = new Date('2020-01-02T03:04:05Z');
    await utimes(archive, fixed, fixed);
    const first = await prepareSandbox({ source: { kind: 'tarball', url }, cacheDir, jobDir: nextJob() });
    const again = await prepareSandbox({ source: { kind: 'tarball', url }, cacheDir, jobDir: nextJob() });
    expect(first.fromCache).toBe(false);
    expect(again.fromCache).toBe(true);

    // Same length of text, same mtime put back: only the content (and ctime) differ.
    await writeTar(archive, [master('version two')]);
    await utimes(archive, fixed, fixed);
    const job = nextJob();
    const replaced = await prepareSandbox({ source: { kind: 'tarball', url }, cacheDir, jobDir: job });
    expect(replaced.fromCache).toBe(false);
    expect(replaced.sha256).not.toBe(first.sha256);
    expect(await masterOf(job)).toContain('version two');
  });
});

describe('fresh sandboxes: http(s)', () => {
  it('ETag: a replaced body is downloaded again, an unchanged one once', async () => {
    const { dir, cacheDir, nextJob } = await caseDir();
    const one = await writeTar(join(dir, 'one.tar'), [master('etag one')]);
    const two = await writeTar(join(dir, 'two.tar'), [master('etag two')]);
    server.routes.set('/etag/s.tar', { body: one });
    const url = server.url('/etag/s.tar');
    await prepareSandbox({ source: { kind: 'tarball', url }, cacheDir, jobDir: nextJob() });
    const cached = await prepareSandbox({ source: { kind: 'tarball', url }, cacheDir, jobDir: nextJob() });
    expect(cached.fromCache).toBe(true);
    expect(server.count('/etag/s.tar')).toBe(1);
    expect(cached.version).toMatch(/^etag="[0-9a-f]{40}";size=\d+$/);

    server.routes.set('/etag/s.tar', { body: two });
    const job = nextJob();
    const fresh = await prepareSandbox({ source: { kind: 'tarball', url }, cacheDir, jobDir: job });
    expect(fresh.fromCache).toBe(false);
    expect(server.count('/etag/s.tar')).toBe(2);
    expect(await masterOf(job)).toContain('etag two');
  });

  it('Last-Modified without an ETag: a newer date is a new version', async () => {
    const { dir, cacheDir, nextJob } = await caseDir();
    const body = await writeTar(join(dir, 'one.tar'), [master('dated')]);
    const route = {
      body,
      validators: 'last-modified' as const,
      lastModified: new Date('2024-05-01T00:00:00Z'),
    };
    server.routes.set('/dated/s.tar', route);
    const url = server.url('/dated/s.tar');
    expect(await tarballVersion(url)).toBe(
      `modified=${route.lastModified.toUTCString()};size=${body.length}`,
    );
    await prepareSandbox({ source: { kind: 'tarball', url }, cacheDir, jobDir: nextJob() });
    expect(
      (await prepareSandbox({ source: { kind: 'tarball', url }, cacheDir, jobDir: nextJob() })).fromCache,
    ).toBe(true);
    server.routes.set('/dated/s.tar', { ...route, lastModified: new Date('2024-05-02T00:00:00Z') });
    expect(
      (await prepareSandbox({ source: { kind: 'tarball', url }, cacheDir, jobDir: nextJob() })).fromCache,
    ).toBe(false);
    expect(server.count('/dated/s.tar')).toBe(2);
  });

  it('a server with neither ETag nor Last-Modified: fetched for every token, nothing kept in the cache', async () => {
    const { dir, cacheDir, nextJob } = await caseDir();
    const body = await writeTar(join(dir, 'one.tar'), [master('no validators')]);
    server.routes.set('/plain/s.tar', { body, validators: 'none' });
    const url = server.url('/plain/s.tar');
    expect(await tarballVersion(url)).toBeUndefined();
    const a = await prepareSandbox({ source: { kind: 'tarball', url }, cacheDir, jobDir: nextJob() });
    const b = await prepareSandbox({ source: { kind: 'tarball', url }, cacheDir, jobDir: nextJob() });
    expect([a.fromCache, b.fromCache]).toEqual([false, false]);
    expect(server.count('/plain/s.tar')).toBe(2);
  });
});

const testbed = gridftpTestbed();

describe.skipIf(!testbed)('fresh sandboxes: gsiftp (the pilot step, GridFTP test bed)', () => {
  const bed = testbed as GridftpTestbed;

  it('size, modification time and adler32 from the storage: a replaced tarball is fetched again', async () => {
    const { cacheDir, nextJob } = await caseDir();
    const remote = await gridftpWorkDir(bed, 'fresh-');
    try {
      const transfer = { proxy: bed.proxy, certDir: bed.certDir, gfalPython: bed.gfalPython };
      const prepare = createSandboxPreparer({ cacheDir, transfer });
      const url = `${remote.url}/sandbox.tar`;
      const source = { kind: 'tarball' as const, url };
      const run = async () => {
        const job = nextJob();
        await prepare(source, job, { signal: new AbortController().signal, logger: silentLogger() });
        return masterOf(job);
      };
      await writeTar(join(remote.path, 'sandbox.tar'), [master('grid one')]);
      const versionOne = await tarballVersion(url);
      expect(versionOne).toBeUndefined(); // without the pilot's stat a grid URL has no version
      expect(await run()).toContain('grid one');
      const entries = () => readdir(cacheDir);
      const afterFirst = await entries();
      expect(await run()).toContain('grid one');
      expect(await entries()).toEqual(afterFirst); // reused, not fetched into a new entry
      // Same size, same minute: the checksum tells them apart.
      await writeTar(join(remote.path, 'sandbox.tar'), [master('grid two')]);
      expect(await run()).toContain('grid two');
      expect((await entries()).length).toBe(afterFirst.length + 1);
    } finally {
      await rm(remote.path, { recursive: true, force: true });
    }
  });
});
