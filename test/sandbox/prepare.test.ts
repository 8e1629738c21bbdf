import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareSandbox, type SandboxMover, sandboxCacheKey, tarballVersion } from '../../src/sandbox';
import { localhostCert } from '../helpers/certs';
import { failure } from '../helpers/errors';
import { maliciousCases, type RawEntry, writeTar } from '../helpers/tarFixtures';
import { startTarServer, type TarServer } from './support/tarServer';

const MASTER: RawEntry = { path: 'master.sh', body: '#!/bin/bash\necho "from tarball"\n', mode: 0o755 };

let root: string;
let server: TarServer;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lrt-prepare-'));
  server = await startTarServer();
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

async function caseDir(): Promise<{ dir: string; cacheDir: string; jobDir: string }> {
  const dir = await mkdtemp(join(root, 'case-'));
  return { dir, cacheDir: join(dir, 'cache'), jobDir: join(dir, 'job', 'work') };
}

describe('tarball sources', () => {
  it('file:// URL and plain path (relative to the cwd) of a .tar.gz', async () => {
    const { dir, cacheDir } = await caseDir();
    const archive = join(dir, 'my sandbox.tar.gz');
    await writeTar(archive, [MASTER], { gzip: true });
    const byUrl = await prepareSandbox({
      source: { kind: 'tarball', url: pathToFileURL(archive).toString() },
      cacheDir,
      jobDir: join(dir, 'a'),
    });
    expect(await readFile(join(dir, 'a', 'master.sh'), 'utf8')).toBe(MASTER.body);
    // A plain path names the same file: same cache entry.
    const byPath = await prepareSandbox({
      source: { kind: 'tarball', url: relative(process.cwd(), archive) },
      cacheDir,
      jobDir: join(dir, 'b'),
    });
    expect(byUrl.fromCache).toBe(false);
    expect(byPath.fromCache).toBe(true);
    expect(byPath.key).toBe(byUrl.key);
    expect(await readFile(join(dir, 'b', 'master.sh'), 'utf8')).toBe(MASTER.body);
  });

  it('https/http 404: names the URL and the status, leaves no lock or entry behind', async () => {
    const { dir, cacheDir, jobDir } = await caseDir();
    const url = server.url('/missing/sandbox.tar');
    const err = await failure(prepareSandbox({ source: { kind: 'tarball', url }, cacheDir, jobDir }));
    expect(err.code).toBe('E_NOT_FOUND');
    expect(err.message).toContain(url);
    expect(err.message).toContain('HTTP 404');
    // No version from the HEAD: the one-off cache next to the job dir was used, and removed.
    expect(await readdir(cacheDir).catch(() => [])).toEqual([]);
    expect(await readdir(join(dir, 'job'))).toEqual([]);
  });

  it('keeps the password of a URL out of the error', async () => {
    const { cacheDir, jobDir } = await caseDir();
    const url = server.url('/private/sandbox.tar').replace('http://', 'http://lofar:s3cr3t-pw@');
    const err = await failure(prepareSandbox({ source: { kind: 'tarball', url }, cacheDir, jobDir }));
    expect(err.message).toContain('/private/sandbox.tar');
    expect(err.message).not.toContain('s3cr3t-pw');
  });

  it('a failed download does not poison the cache: the next pilot fetches again', async () => {
    const { dir, cacheDir } = await caseDir();
    const tar = await writeTar(join(dir, 's.tar'), [MASTER]);
    server.routes.set('/flaky/s.tar', [{ status: 503, body: 'busy' }, { body: tar }]);
    const url = server.url('/flaky/s.tar');
    const first = await failure(
      prepareSandbox({ source: { kind: 'tarball', url }, cacheDir, jobDir: join(dir, 'j1') }),
    );
    expect(first.code).toBe('E_TRANSFER');
    expect(first.message).toContain('HTTP 503');
    const second = await prepareSandbox({
      source: { kind: 'tarball', url },
      cacheDir,
      jobDir: join(dir, 'j2'),
    });
    expect(second.fromCache).toBe(false);
    expect(server.count('/flaky/s.tar')).toBe(2);
  });

  it('gsiftp:// without a mover: a clear E_TRANSFER', async () => {
    const { cacheDir, jobDir } = await caseDir();
    const url = 'gsiftp://gridftp.grid.sara.nl:2811/pnfs/grid.sara.nl/data/lofar/user/sksp/sandbox/pref.tar';
    const err = await failure(prepareSandbox({ source: { kind: 'tarball', url }, cacheDir, jobDir }));
    expect(err.code).toBe('E_TRANSFER');
    expect(err.message).toMatch(/no mover for gsiftp:\/\//);
    expect(err.message).toContain(url);
  });

  it('gsiftp:// through the injected mover, once for 3 concurrent pilots', async () => {
    const { dir, cacheDir } = await caseDir();
    const stored = join(dir, 'storage.tar');
    await writeTar(stored, [MASTER, { path: 'tokvar.cfg', body: 'OBSID: $OBSID\n' }]);
    const calls: string[] = [];
    const mover: SandboxMover = async (url, destFile) => {
      calls.push(url);
      await new Promise((r) => setTimeout(r, 200));
      await copyFile(stored, destFile);
    };
    const url = 'gsiftp://gridftp.example.org:2811/sandbox/pref.tar';
    const statStored = async () => {
      const info = await stat(stored);
      return { size: info.size, modified: info.mtime.toISOString() };
    };
    const results = await Promise.all(
      [1, 2, 3].map((i) =>
        prepareSandbox({
          source: { kind: 'tarball', url },
          cacheDir,
          jobDir: join(dir, `j${i}`),
          mover,
          stat: statStored,
          lock: { pollMs: 10 },
        }),
      ),
    );
    expect(calls).toEqual([url]);
    expect(results.filter((r) => !r.fromCache)).toHaveLength(1);
    expect(await readFile(join(dir, 'j3', 'tokvar.cfg'), 'utf8')).toBe('OBSID: $OBSID\n');
  });
});

describe('https, abort, long downloads', () => {
  async function httpsServer(dir: string, body: Buffer) {
    const { key, cert: ca } = await localhostCert(dir);
    const httpsServer = createHttpsServer({ key, cert: ca }, (req, res) => {
      if (req.url === '/sbx.tar') res.writeHead(200, { 'content-length': body.length }).end(body);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => httpsServer.listen(0, '127.0.0.1', r));
    const { port } = httpsServer.address() as AddressInfo;
    return { base: `https://127.0.0.1:${port}`, ca, close: () => new Promise((r) => httpsServer.close(r)) };
  }

  it('https: 404 named with URL and status; a download through a dispatcher trusting the CA', async () => {
    const { dir, cacheDir } = await caseDir();
    const body = await writeTar(join(dir, 's.tar'), [MASTER]);
    const https = await httpsServer(dir, body);
    const dispatcher = new Agent({ connect: { ca: https.ca } });
    try {
      const missing = `${https.base}/gone.tar`;
      const err = await failure(
        prepareSandbox({
          source: { kind: 'tarball', url: missing },
          cacheDir,
          jobDir: join(dir, 'j1'),
          dispatcher,
        }),
      );
      expect(err.code).toBe('E_NOT_FOUND');
      expect(err.message).toContain(`${missing} failed: HTTP 404`);
      const ok = await prepareSandbox({
        source: { kind: 'tarball', url: `${https.base}/sbx.tar` },
        cacheDir,
        jobDir: join(dir, 'j2'),
        dispatcher,
      });
      expect(ok.fromCache).toBe(false);
      expect(await readFile(join(dir, 'j2', 'master.sh'), 'utf8')).toBe(MASTER.body);
      // Without the CA the certificate is refused, and the error says which URL.
      const untrusted = await failure(
        prepareSandbox({
          source: { kind: 'tarball', url: `${https.base}/sbx.tar` },
          jobDir: join(dir, 'j3'),
        }),
      );
      expect(untrusted.code).toBe('E_TRANSFER');
      expect(untrusted.message).toContain(`${https.base}/sbx.tar`);
    } finally {
      await dispatcher.close();
      await https.close();
    }
  });

  it('an abort during the download stops it and leaves nothing behind', async () => {
    const { dir, cacheDir, jobDir } = await caseDir();
    const body = await writeTar(join(dir, 's.tar'), [MASTER]);
    server.routes.set('/slow/s.tar', { body, delayMs: 3000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('walltime reached')), 200);
    const started = Date.now();
    const err = await prepareSandbox({
      source: { kind: 'tarball', url: server.url('/slow/s.tar') },
      cacheDir,
      jobDir,
      signal: controller.signal,
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('walltime reached');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('the holder keeps its lock fresh: a download longer than staleMs is not taken for stale', async () => {
    const { dir, cacheDir } = await caseDir();
    const body = await writeTar(join(dir, 's.tar'), [MASTER]);
    server.routes.set('/long/s.tar', { body, delayMs: 1000 });
    const url = server.url('/long/s.tar');
    const results = await Promise.all(
      [1, 2, 3].map((i) =>
        prepareSandbox({
          source: { kind: 'tarball', url },
          cacheDir,
          jobDir: join(dir, `j${i}`),
          lock: { staleMs: 200, pollMs: 20, maxPollMs: 50 },
        }),
      ),
    );
    expect(server.count('/long/s.tar')).toBe(1);
    expect(results.filter((r) => !r.fromCache)).toHaveLength(1);
  });
});

describe('what the job dir gets', () => {
  it('master.sh missing: E_SANDBOX with LOFAR exit code 127', async () => {
    const { dir, cacheDir, jobDir } = await caseDir();
    const archive = join(dir, 's.tar');
    await writeTar(archive, [{ path: 'run.sh', body: 'echo\n' }]);
    const err = await failure(
      prepareSandbox({ source: { kind: 'tarball', url: archive }, cacheDir, jobDir }),
    );
    expect(err.code).toBe('E_SANDBOX');
    expect(err.exitCode).toBe(127);
    expect(err.message).toContain('master.sh missing');
  });

  it('an empty sandbox: exit code -2, and it is not cached', async () => {
    const { dir, cacheDir, jobDir } = await caseDir();
    const archive = join(dir, 's.tar');
    await writeTar(archive, [{ path: './', type: 'dir' }]);
    const err = await failure(
      prepareSandbox({ source: { kind: 'tarball', url: archive }, cacheDir, jobDir }),
    );
    expect(err.code).toBe('E_SANDBOX');
    expect(err.exitCode).toBe(-2);
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('an unsafe tarball: E_UNSAFE_ENTRY, nothing in the cache, the job dir untouched', async () => {
    const { dir, cacheDir, jobDir } = await caseDir();
    const outside = join(dir, 'outside');
    await mkdir(outside);
    const kase = maliciousCases(outside).find((c) => c.name === 'symlink chain escaping')!;
    const archive = join(dir, 's.tar.gz');
    await writeTar(archive, kase.entries, { gzip: true });
    await mkdir(jobDir, { recursive: true });
    await writeFile(join(jobDir, 'pipeline_status'), 'init\n');
    const err = await failure(
      prepareSandbox({ source: { kind: 'tarball', url: archive }, cacheDir, jobDir }),
    );
    expect(err.code).toBe('E_UNSAFE_ENTRY');
    expect(err.message).toContain(`'${kase.culprit}'`);
    expect(await readdir(cacheDir)).toEqual([]);
    expect(await readdir(jobDir)).toEqual(['pipeline_status']);
    expect(await readdir(outside)).toEqual([]);
  });

  it('merges into an existing job dir and makes a non-executable master.sh executable', async () => {
    const { dir, cacheDir, jobDir } = await caseDir();
    const archive = join(dir, 's.tar');
    await writeTar(archive, [
      { ...MASTER, mode: 0o644 },
      { path: 'bin/', type: 'dir' },
    ]);
    await mkdir(jobDir, { recursive: true });
    await writeFile(join(jobDir, 'srm.txt'), 'srm://x\n');
    await prepareSandbox({ source: { kind: 'tarball', url: archive }, cacheDir, jobDir });
    expect((await readdir(jobDir)).sort()).toEqual(['bin', 'master.sh', 'srm.txt']);
    expect((await stat(join(jobDir, 'master.sh'))).mode & 0o100).toBe(0o100);
    const key = sandboxCacheKey({ kind: 'tarball', url: archive }, await tarballVersion(archive));
    const cached = join(cacheDir, key, 'sandbox', 'master.sh');
    expect((await stat(cached)).mode & 0o100).toBe(0);
  });

  it('without a cache dir: a private one-off cache that is removed afterwards', async () => {
    const { dir, jobDir } = await caseDir();
    const archive = join(dir, 's.tar');
    await writeTar(archive, [MASTER]);
    const result = await prepareSandbox({ source: { kind: 'tarball', url: archive }, jobDir });
    expect(result.fromCache).toBe(false);
    expect(await readFile(join(jobDir, 'master.sh'), 'utf8')).toBe(MASTER.body);
    expect(await readdir(dirname(jobDir))).toEqual(['work']);
  });
});
