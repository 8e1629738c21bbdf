import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type StageInOptions, type StageInProgress, stageIn } from '../../src/transfer/stageIn';
import { failure } from '../helpers/errors';
import { zlibAdler32 } from './reference';

/**
 * A storage door on 127.0.0.1 with one behaviour per path prefix:
 * /ok/ serves the file (announcing its adler32 on Want-Digest), /flaky/ answers 500 twice then
 * serves, /corrupt/ announces the true adler32 but sends one byte changed, /stall/ sends a few
 * bytes and then nothing, /slow/ trickles; anything unknown is 404.
 */
interface Door {
  url: string;
  files: Map<string, Buffer>;
  digests: Map<string, string>;
  gets: Map<string, number>;
  active: number;
  maxActive: number;
  close(): Promise<void>;
}

async function startDoor(): Promise<Door> {
  const door = {
    files: new Map<string, Buffer>(),
    digests: new Map<string, string>(),
    gets: new Map<string, number>(),
    active: 0,
    maxActive: 0,
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const [, kind = '', name = ''] = path.split('/');
    const file = door.files.get(name);
    if (!file) return res.writeHead(404, { 'content-type': 'text/plain' }).end(`${path}: no such file\n`);
    if (req.method === 'HEAD') {
      const digest = door.digests.get(name);
      const headers: Record<string, string> = { 'content-length': String(file.length) };
      if (digest && req.headers['want-digest']) headers.digest = `adler32=${digest}`;
      return res.writeHead(200, headers).end();
    }
    const count = (door.gets.get(path) ?? 0) + 1;
    door.gets.set(path, count);
    door.active += 1;
    door.maxActive = Math.max(door.maxActive, door.active);
    res.on('close', () => {
      door.active -= 1;
    });
    if (kind === 'flaky' && count <= 2) return res.writeHead(500).end('try later\n');
    res.writeHead(200, { 'content-length': String(file.length) });
    if (kind === 'stall') return void res.write(file.subarray(0, 100));
    if (kind === 'slow') {
      let at = 0;
      const timer = setInterval(() => {
        if (res.destroyed || at >= file.length) return clearInterval(timer);
        res.write(file.subarray(at, at + 1024));
        at += 1024;
      }, 50);
      return;
    }
    const body = kind === 'corrupt' ? Buffer.from(file) : file;
    if (kind === 'corrupt') body[body.length >> 1] = body[body.length >> 1]! ^ 0xff;
    // a short delay keeps transfers overlapping, so the concurrency bound is observable
    setTimeout(() => res.end(body), 60);
  };
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(door, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

const fast = { backoff: { baseMs: 5, maxMs: 20 }, rng: () => 0.5 } satisfies Partial<StageInOptions>;

describe('stageIn', () => {
  let door: Door;
  let work: string;
  let inputDir: string;
  const data = new Map<string, Buffer>();
  const sums = new Map<string, string>();

  beforeAll(async () => {
    door = await startDoor();
    work = await mkdtemp(join(tmpdir(), 'lrt-stagein-'));
    await mkdir(join(work, 'src'));
    for (const [name, size] of [
      ['a.dat', 300_000],
      ['b.dat', 12_345],
      ['c.dat', 1],
      ['d.dat', 70_000],
      ['big.dat', 1_000_000],
    ] as const) {
      const bytes = randomBytes(size);
      data.set(name, bytes);
      door.files.set(name, bytes);
      await writeFile(join(work, 'src', name), bytes);
      sums.set(name, await zlibAdler32(join(work, 'src', name)));
      door.digests.set(name, sums.get(name)!);
    }
  });
  afterAll(async () => {
    await door.close();
    await rm(work, { recursive: true, force: true });
  });
  beforeEach(async () => {
    inputDir = join(work, `Input-${Math.random().toString(36).slice(2)}`);
    door.gets.clear();
    door.maxActive = 0;
  });

  const listing = async () => (await readdir(inputDir)).sort();

  it('downloads http and file:// sources, bounded, verified against the storage adler32', async () => {
    const urls = [
      `${door.url}/ok/a.dat`,
      `${door.url}/ok/b.dat`,
      `${door.url}/ok/c.dat`,
      pathToFileURL(join(work, 'src', 'd.dat')).href,
    ];
    const reports: StageInProgress[] = [];
    const result = await stageIn({ urls, inputDir, concurrency: 2, onProgress: (p) => reports.push(p) });
    expect(await listing()).toEqual(['a.dat', 'b.dat', 'c.dat', 'd.dat']);
    for (const file of result.files) {
      const name = file.path.slice(inputDir.length + 1);
      expect((await readFile(file.path)).equals(data.get(name)!)).toBe(true);
      expect(file.adler32).toBe(sums.get(name));
      expect(file.attempts).toBe(1);
    }
    const total = ['a.dat', 'b.dat', 'c.dat', 'd.dat'].reduce((n, f) => n + data.get(f)!.length, 0);
    expect(result.bytes).toBe(total);
    expect(door.maxActive).toBeLessThanOrEqual(2);
    expect(door.maxActive).toBe(2);
    const last = reports[reports.length - 1]!;
    expect(last).toMatchObject({ filesDone: 4, filesTotal: 4, bytes: total });
    expect(last.rate).toBeGreaterThan(0);
    // HEAD asked for the checksum; each file was fetched once
    expect([...door.gets.values()]).toEqual([1, 1, 1]);
  });

  it('retries a failing URL with backoff and counts the attempts', async () => {
    const warnings: string[] = [];
    const result = await stageIn({
      urls: [`${door.url}/flaky/b.dat`],
      inputDir,
      retries: 3,
      onWarning: (w) => warnings.push(w),
      ...fast,
    });
    expect(door.gets.get('/flaky/b.dat')).toBe(3);
    expect(result.files[0]!.attempts).toBe(3);
    expect((await readFile(join(inputDir, 'b.dat'))).equals(data.get('b.dat')!)).toBe(true);
    expect(warnings.filter((w) => w.includes('retrying'))).toHaveLength(2);
  });

  it('gives up when the retries are used up, naming the URL, the attempts and the server reply', async () => {
    const started = Date.now();
    const err = await failure(
      stageIn({
        urls: [`${door.url}/slow/big.dat`, `${door.url}/flaky/c.dat`],
        inputDir,
        retries: 1,
        backoff: { baseMs: 400, maxMs: 400 },
        rng: () => 1,
      }),
    );
    expect(err.code).toBe('E_TRANSFER');
    expect(err.exitCode).toBe(21);
    expect(err.message).toContain(`${door.url}/flaky/c.dat`);
    expect(err.message).toContain('after 2 attempts');
    expect(err.message).toContain('HTTP 500');
    // the slow transfer was under way and was stopped: nothing of it is left
    expect(door.gets.get('/slow/big.dat')).toBe(1);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await listing()).toEqual([]);
  });

  it('a 404 is not retried, and stops the other transfers without leaving partial files', async () => {
    const started = Date.now();
    const err = await failure(
      stageIn({
        urls: [`${door.url}/slow/big.dat`, `${door.url}/ok/nope.dat`],
        inputDir,
        retries: 3,
        ...fast,
      }),
    );
    expect(err.code).toBe('E_NOT_FOUND');
    expect(err.message).toContain(`${door.url}/ok/nope.dat`);
    expect(err.message).toContain('after 1 attempt:');
    expect(door.gets.get('/ok/nope.dat')).toBeUndefined(); // 404 before counting: never served
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await listing()).toEqual([]);
  });

  it('a corrupted body fails the adler32 check (storage value), is tried once more, and is not kept', async () => {
    const err = await failure(
      stageIn({ urls: [`${door.url}/corrupt/a.dat`], inputDir, retries: 5, ...fast }),
    );
    expect(err.code).toBe('E_CHECKSUM');
    expect(err.message).toContain(sums.get('a.dat'));
    expect(door.gets.get('/corrupt/a.dat')).toBe(2);
    expect(await listing()).toEqual([]);
  });

  it('a checksum from the token (by file name) is checked without asking the storage', async () => {
    const err = await failure(
      stageIn({
        urls: [`${door.url}/corrupt/b.dat`],
        inputDir,
        retries: 0,
        storageChecksums: false,
        expectedAdler32: { 'b.dat': sums.get('b.dat')!.toUpperCase() },
      }),
    );
    expect(err.code).toBe('E_CHECKSUM');
    expect(await listing()).toEqual([]);
    const ok = await stageIn({
      urls: [`${door.url}/ok/b.dat`],
      inputDir,
      storageChecksums: false,
      expectedAdler32: { [`${door.url}/ok/b.dat`]: sums.get('b.dat')! },
    });
    expect(ok.files[0]!.adler32).toBe(sums.get('b.dat'));
  });

  it('detects a stalled transfer', async () => {
    const started = Date.now();
    const err = await failure(
      stageIn({
        urls: [`${door.url}/stall/a.dat`],
        inputDir,
        retries: 0,
        options: { stallTimeoutSeconds: 1 },
      }),
    );
    expect(err.code).toBe('E_TRANSFER');
    expect(err.message).toMatch(/stall/);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(await listing()).toEqual([]);
  });

  it('a NEARLINE file (tape check hook) fails with E_NOT_STAGED, exit 22, and is never fetched', async () => {
    const err = await failure(
      stageIn({
        urls: [`${door.url}/ok/a.dat`],
        inputDir,
        isNearline: async (url) => url.endsWith('a.dat'),
      }),
    );
    expect(err.code).toBe('E_NOT_STAGED');
    expect(err.exitCode).toBe(22);
    expect(door.gets.size).toBe(0);
  });

  it('refuses two URLs that land on the same file name before downloading anything', async () => {
    const err = await failure(
      stageIn({ urls: [`${door.url}/ok/a.dat`, pathToFileURL(join(work, 'src', 'a.dat')).href], inputDir }),
    );
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toContain('Input/a.dat');
    expect(door.gets.size).toBe(0);
  });

  it('a cancel stops everything with the signal reason and leaves no partial file', async () => {
    const controller = new AbortController();
    const reason = new Error('pilot stopping');
    setTimeout(() => controller.abort(reason), 300);
    const run = stageIn({ urls: [`${door.url}/slow/big.dat`], inputDir, signal: controller.signal });
    await expect(run).rejects.toBe(reason);
    expect(await listing()).toEqual([]);
  });

  describe('archives', () => {
    let tree: string;
    beforeAll(async () => {
      tree = join(work, 'tree');
      await mkdir(join(tree, 'L1_SB001.MS', 'table'), { recursive: true });
      await writeFile(join(tree, 'L1_SB001.MS', 'table', 'f0'), data.get('b.dat')!);
      await writeFile(join(tree, 'notes.txt'), 'hello\n');
      // made by GNU tar, not by the code under test
      await execa('tar', ['-czf', join(work, 'src', 'in.tar.gz'), '-C', tree, 'L1_SB001.MS', 'notes.txt']);
      await execa('/usr/bin/python3', [
        '-c',
        'import sys, tarfile, io\nwith tarfile.open(sys.argv[1], "w") as t:\n    i = tarfile.TarInfo("../escape.txt"); d = b"x"; i.size = 1; t.addfile(i, io.BytesIO(d))',
        join(work, 'src', 'evil.tar'),
      ]);
    });

    it('extracts a .tar.gz input next to it and removes the tarball', async () => {
      const url = pathToFileURL(join(work, 'src', 'in.tar.gz')).href;
      const result = await stageIn({ urls: [url, `${door.url}/ok/c.dat`], inputDir, extract: true });
      expect(await listing()).toEqual(['L1_SB001.MS', 'c.dat', 'notes.txt']);
      expect(result.files[0]!.extracted).toEqual(['L1_SB001.MS', 'notes.txt']);
      expect(result.files[0]!.adler32).toBe(await zlibAdler32(join(work, 'src', 'in.tar.gz')));
      const inner = await readFile(join(inputDir, 'L1_SB001.MS', 'table', 'f0'));
      expect(inner.equals(data.get('b.dat')!)).toBe(true);
    });

    it('keeps the tarball as it is without extract', async () => {
      const url = pathToFileURL(join(work, 'src', 'in.tar.gz')).href;
      await stageIn({ urls: [url], inputDir });
      expect(await listing()).toEqual(['in.tar.gz']);
    });

    it('refuses an archive with an entry outside Input/', async () => {
      const url = pathToFileURL(join(work, 'src', 'evil.tar')).href;
      const err = await failure(stageIn({ urls: [url], inputDir, extract: true }));
      expect(err.code).toBe('E_UNSAFE_ENTRY');
      expect(err.message).toContain('../escape.txt');
      expect(err.message).toContain('evil.tar');
      expect((await listing()).filter((n) => n !== 'evil.tar')).toEqual([]);
      await expect(readFile(join(work, 'escape.txt'))).rejects.toThrow();
    });
  });
});
