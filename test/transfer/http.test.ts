import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { httpMover, moverFor, toHttpUrl } from '../../src/transfer';
import { failure } from '../helpers/errors';
import { zlibAdler32 } from './reference';
import { type StorageServer, startStorageServer } from './storageServer';

const TOKEN = 'macaroon-MDAxY2xvY2F0aW9uIE9wdGlvbmFs-secret';

let dir: string;
let server: StorageServer;
let data: Buffer;
let dataPath: string;
let dataSum: string;
const auth = { bearerToken: TOKEN };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lrt-http-'));
  data = randomBytes(2 * 1024 * 1024 + 333);
  dataPath = join(dir, 'source.bin');
  await writeFile(dataPath, data);
  dataSum = await zlibAdler32(dataPath);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  server = await startStorageServer({ token: TOKEN });
  server.files.set('/data/file.bin', data);
  server.collections.add('/data/');
});
afterEach(async () => {
  await server.close();
});

describe('https mover against a local HTTP storage door', () => {
  it('downloads with the bearer token, byte for byte, with the adler32 computed on the way', async () => {
    const dest = join(dir, 'plain', 'file.bin');
    const got = await httpMover.fetch(`${server.url}/data/file.bin`, dest, auth);
    expect((await readFile(dest)).equals(data)).toBe(true);
    expect(got).toMatchObject({ bytes: data.length, adler32: dataSum });
    expect(got.resumedFrom).toBeUndefined();
    expect(server.seen[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('resumes an interrupted download with a Range request', async () => {
    const url = `${server.url}/data/file.bin`;
    const dest = join(dir, 'resume', 'file.bin');
    server.cutNextGet.add('/data/file.bin');
    const cut = await failure(httpMover.fetch(url, dest, auth));
    expect(cut.code).toBe('E_TRANSFER');
    expect(cut.message).toContain(url);
    expect(cut.message).not.toContain(TOKEN);
    const partial = (await stat(`${dest}.part`)).size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(data.length);
    expect(existsSync(dest)).toBe(false);

    const got = await httpMover.fetch(url, dest, auth);
    expect(server.seen.at(-1)?.headers.range).toBe(`bytes=${partial}-`);
    expect(got.resumedFrom).toBe(partial);
    expect(got.bytes).toBe(data.length);
    expect(got.adler32).toBe(dataSum);
    expect((await readFile(dest)).equals(data)).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('starts over when the server ignores the Range header', async () => {
    const dest = join(dir, 'norange', 'file.bin');
    await mkdir(join(dir, 'norange'), { recursive: true });
    await writeFile(`${dest}.part`, Buffer.from('stale bytes that are not the file'));
    server.ignoreRange.add('/data/file.bin');
    const got = await httpMover.fetch(`${server.url}/data/file.bin`, dest, auth);
    expect(server.seen.at(-1)?.headers.range).toBe('bytes=33-');
    expect(got.resumedFrom).toBeUndefined();
    expect((await readFile(dest)).equals(data)).toBe(true);
    expect(got.adler32).toBe(dataSum);
  });

  it('finishes a complete .part the server answers 416 for', async () => {
    const dest = join(dir, 'complete', 'file.bin');
    await mkdir(join(dir, 'complete'), { recursive: true });
    await writeFile(`${dest}.part`, data);
    const got = await httpMover.fetch(`${server.url}/data/file.bin`, dest, auth);
    expect(got).toMatchObject({ bytes: data.length, adler32: dataSum, resumedFrom: data.length });
    expect((await readFile(dest)).equals(data)).toBe(true);
  });

  it('maps 404 to E_NOT_FOUND and 401 to E_TRANSFER_AUTH, never echoing the token', async () => {
    const missing = `${server.url}/data/nope.bin?authz=${TOKEN}`;
    const notFound = await failure(httpMover.fetch(missing, join(dir, 'nf.bin'), auth));
    expect(notFound.code).toBe('E_NOT_FOUND');
    expect(notFound.message).toContain(`${server.url}/data/nope.bin`);
    expect(notFound.message).toContain('HTTP 404');
    expect(notFound.message).not.toContain(TOKEN);
    expect(existsSync(join(dir, 'nf.bin'))).toBe(false);

    const denied = await failure(
      httpMover.fetch(`${server.url}/data/file.bin`, join(dir, 'denied.bin'), { bearerToken: 'wrong-token' }),
    );
    expect(denied.code).toBe('E_TRANSFER_AUTH');
    expect(denied.message).toContain('HTTP 401');
    expect(denied.message).not.toContain('wrong-token');
  });

  it('rejects bytes whose adler32 differs from the expected one (E_CHECKSUM, nothing kept)', async () => {
    const dest = join(dir, 'bad', 'file.bin');
    const err = await failure(
      httpMover.fetch(`${server.url}/data/file.bin`, dest, { ...auth, expectedAdler32: '0xdeadbeef' }),
    );
    expect(err.code).toBe('E_CHECKSUM');
    expect(err.message).toContain(dataSum);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);

    const ok = await httpMover.fetch(`${server.url}/data/file.bin`, dest, {
      ...auth,
      expectedAdler32: dataSum,
    });
    expect(ok.adler32).toBe(dataSum);
  });

  it('gives up on a stalled body after the stall timeout', async () => {
    server.stall.add('/data/file.bin');
    const started = Date.now();
    const err = await failure(
      httpMover.fetch(`${server.url}/data/file.bin`, join(dir, 'stall', 'f'), {
        ...auth,
        stallTimeoutSeconds: 1,
      }),
    );
    expect(err.code).toBe('E_TRANSFER');
    expect(err.message).toMatch(/no data for 1 s \(stall timeout\)/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("stops when the signal aborts, with the signal's reason", async () => {
    server.stall.add('/data/file.bin');
    const controller = new AbortController();
    const reason = new Error('pilot is shutting down');
    setTimeout(() => controller.abort(reason), 300);
    const err = await httpMover
      .fetch(`${server.url}/data/file.bin`, join(dir, 'abort', 'f'), { ...auth, signal: controller.signal })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBe(reason);
  });

  it('uploads with PUT, creating collections with MKCOL when asked, following a redirect', async () => {
    const url = `${server.url}/out/a/b/file.bin`;
    const noDir = await failure(httpMover.put(dataPath, url, auth));
    expect(noDir.code).toBe('E_TRANSFER');
    expect(noDir.message).toMatch(/destination directory does not exist/);
    expect(noDir.details.missingDestinationDir).toBe(true);

    const put = await httpMover.put(dataPath, url, { ...auth, createDirs: true });
    expect(put).toMatchObject({ bytes: data.length, adler32: dataSum });
    expect(server.files.get('/out/a/b/file.bin')?.equals(data)).toBe(true);
    expect(server.seen.filter((r) => r.method === 'MKCOL').map((r) => r.path)).toEqual([
      '/out/a/b/',
      '/out/a/',
      '/out/',
      '/out/a/',
      '/out/a/b/',
    ]);

    server.redirectPut.set('/data/moved.bin', '/data/pool-copy.bin');
    await httpMover.put(dataPath, `${server.url}/data/moved.bin`, auth);
    expect(server.files.get('/data/pool-copy.bin')?.equals(data)).toBe(true);

    const missingSrc = await failure(httpMover.put(join(dir, 'nope'), url, auth));
    expect(missingSrc.code).toBe('E_NOT_FOUND');
  });

  it('stats with HEAD and reads the server adler32 from a Digest header', async () => {
    server.digests.set('/data/file.bin', dataSum);
    expect(await httpMover.stat(`${server.url}/data/file.bin`, auth)).toMatchObject({ size: data.length });
    expect(await httpMover.checksum!(`${server.url}/data/file.bin`, 'adler32', auth)).toBe(dataSum);
    expect(server.seen.at(-1)?.headers['want-digest']).toBe('adler32');
    const err = await failure(httpMover.stat(`${server.url}/data/none`, auth));
    expect(err.code).toBe('E_NOT_FOUND');
  });

  it('gives E_TRANSFER naming the URL for a refused connection', async () => {
    const url = 'http://127.0.0.1:1/data/file.bin';
    const err = await failure(httpMover.fetch(url, join(dir, 'refused', 'f'), auth));
    expect(err.code).toBe('E_TRANSFER');
    expect(err.message).toContain(url);
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it('serves davs:// and dav:// as WebDAV over https/http', () => {
    expect(toHttpUrl('davs://webdav.grid.surfsara.nl:2880/pnfs/x')).toBe(
      'https://webdav.grid.surfsara.nl:2880/pnfs/x',
    );
    expect(toHttpUrl('dav://h/x')).toBe('http://h/x');
    expect(moverFor('davs://h/x')).toBe(httpMover);
  });
});
