import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLrtError, silentLogger } from '../../src/core';
import { type TokenDoc, tokenFromDoc } from '../../src/picas/tokenDoc';
import { containerSpecOf, expectedMd5, imageSources } from '../../src/pilot/containerSpec';
import { type ContainerStepOptions, imageEnv, pullContainer } from '../../src/pilot/containerStep';
import { localhostCert } from '../helpers/certs';
import { type GridftpTestbed, gridftpTestbed, gridftpWorkDir } from '../helpers/gridftp';
import { type StorageServer, startStorageServer } from '../transfer/storageServer';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const tokenWith = (singularity: unknown): TokenDoc =>
  tokenFromDoc({ _id: 't_x_1', type: 'x', lock: 0, done: 0, 'config.json': { container: { singularity } } });

describe('container spec: the launcher rules', () => {
  it('reads SIMG and SIMG_COMMIT from config.json.container.singularity', () => {
    expect(containerSpecOf(tokenWith({ SIMG: 'shub://a/b:c', SIMG_COMMIT: 'abc' }))).toEqual({
      simg: 'shub://a/b:c',
      commit: 'abc',
    });
    expect(
      containerSpecOf(tokenFromDoc({ _id: 'a', type: 'x', lock: 0, done: 0, 'config.json': {} })),
    ).toBeUndefined();
    expect(containerSpecOf(tokenWith({ SIMG: '' }))).toBeUndefined();
    expect(() => containerSpecOf(tokenWith({ SIMG: 5 }))).toThrow(
      /t_x_1: config.json.container.singularity SIMG/,
    );
  });

  it('shub via the mirror with @commit; gsiftp gets @commit before .sif; paths, http and file as written', () => {
    const commit = '24e3f7bf5d4213b4f166c329f29acbfc';
    expect(
      imageSources({ simg: 'shub://tikk3r/lofar-grid-hpccloud:lofar', commit }, 'https://m/shub/'),
    ).toEqual([`https://m/shub/tikk3r/lofar-grid-hpccloud/lofar@${commit}.sif?action=show`]);
    expect(imageSources({ simg: 'shub://u/c:img' }, 'https://m')).toEqual([
      'https://m/u/c/img.sif?action=show',
    ]);
    expect(imageSources({ simg: 'gsiftp://h/p/lofar.sif', commit: 'abc' })).toEqual([
      'gsiftp://h/p/lofar@abc.sif',
    ]);
    expect(imageSources({ simg: 'gsiftp://h/p/lofar.sif' })).toEqual(['gsiftp://h/p/lofar.sif']);
    expect(imageSources({ simg: '/cvmfs/img.sif', commit: 'abc' })).toEqual(['file:///cvmfs/img.sif']);
    expect(imageSources({ simg: 'https://h/img.sif', commit: 'abc' })).toEqual(['https://h/img.sif']);
    expect(() => imageSources({ simg: 'docker://x/y' })).toThrow(/unknown location/);
    expect(expectedMd5({ simg: 'x', commit })).toBe(commit);
    expect(expectedMd5({ simg: 'x', commit: 'v1.2' })).toBeUndefined();
  });
});

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lrt-container-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const ctx = () => ({ signal: new AbortController().signal, logger: silentLogger(), report: () => undefined });
const fastRetry = { retries: 3 };

describe('pulling an image over https (a real TLS server)', () => {
  let server: StorageServer;
  let dispatcher: Agent;
  const image = randomBytes(3 * 1024 * 1024 + 77);
  const commit = md5(image);
  const mirrorPath = `/mirror/tikk3r/lofar-grid-hpccloud/lofar@${commit}.sif`;
  beforeAll(async () => {
    const tls = await localhostCert(root);
    server = await startStorageServer({ tls });
    dispatcher = new Agent({ connect: { ca: tls.cert } });
    server.files.set(mirrorPath, image);
  });
  afterAll(async () => {
    await dispatcher.close();
    await server.close();
  });
  const options = (cacheDir: string): ContainerStepOptions => ({
    cacheDir,
    mirror: `${server.url}/mirror`,
    transfer: { dispatcher },
    ...fastRetry,
  });
  const gets = (path: string) => server.seen.filter((r) => r.method === 'GET' && r.path === path);
  const spec = () => ({ simg: 'shub://tikk3r/lofar-grid-hpccloud:lofar', commit });

  it('4 pilots at once on one node: one download, one content-addressed image, SIMG/SIMG_COMMIT', async () => {
    const cacheDir = join(root, 'node-a');
    const pulled = await Promise.all([1, 2, 3, 4].map(() => pullContainer(spec(), options(cacheDir), ctx())));
    expect(gets(mirrorPath)).toHaveLength(1);
    expect(pulled.filter((p) => !p.fromCache)).toHaveLength(1);
    const path = join(cacheDir, 'images', 'sha256', `${sha256(image)}.sif`);
    for (const p of pulled) expect(p.path).toBe(path);
    expect((await readFile(path)).equals(image)).toBe(true);
    expect(imageEnv(spec(), pulled[0]!)).toEqual({ SIMG: path, SIMG_COMMIT: commit });
    expect(await readdir(join(cacheDir, 'images', '.partial'))).toEqual([]);
  });

  it('a download cut short resumes where it broke off and is checked against SIMG_COMMIT', async () => {
    const cacheDir = join(root, 'node-b');
    server.cutNextGet.add(mirrorPath);
    const before = gets(mirrorPath).length;
    const pulled = await pullContainer(spec(), options(cacheDir), ctx());
    const tries = gets(mirrorPath).slice(before);
    expect(tries).toHaveLength(2);
    expect(tries[1]!.headers.range).toBe(`bytes=${Math.floor(image.length / 2)}-`);
    expect((await readFile(pulled.path)).equals(image)).toBe(true);
  });

  it('a missing image fails naming it; a wrong one fails its md5 check and leaves nothing', async () => {
    const cacheDir = join(root, 'node-c');
    const missing = await pullContainer(
      { simg: 'shub://nobody/none:x', commit },
      options(cacheDir),
      ctx(),
    ).catch((e) => e);
    expect(isLrtError(missing, 'E_NOT_FOUND')).toBe(true);
    expect(missing.message).toContain('container image shub://nobody/none:x');
    expect(missing.message).toContain('not found');
    const other = `${server.url}/other.sif`;
    server.files.set('/other.sif', randomBytes(5000));
    const wrong = await pullContainer({ simg: other, commit }, options(cacheDir), ctx()).catch((e) => e);
    expect(isLrtError(wrong, 'E_CHECKSUM')).toBe(true);
    expect(wrong.message).toContain(`container image ${other}`);
    expect(wrong.message).toContain(`SIMG_COMMIT is ${commit}`);
    expect(await readdir(join(cacheDir, 'images', 'sha256')).catch(() => [])).toEqual([]);
  });
});

describe('pulling an image from file:// and a local path', () => {
  it('copies it once into the cache; the same file by path and URL shares one image', async () => {
    const cacheDir = join(root, 'node-f');
    const image = randomBytes(200_000);
    const file = join(root, 'local.sif');
    await writeFile(file, image);
    const first = await pullContainer(
      { simg: file },
      { cacheDir, mirror: 'https://unused', transfer: {} },
      ctx(),
    );
    const again = await pullContainer(
      { simg: file },
      { cacheDir, mirror: 'https://unused', transfer: {} },
      ctx(),
    );
    const url = await pullContainer(
      { simg: `file://${file}` },
      { cacheDir, mirror: 'x', transfer: {} },
      ctx(),
    );
    expect([first.fromCache, again.fromCache, url.fromCache]).toEqual([false, true, true]);
    expect(url.path).toBe(first.path);
    expect((await readFile(first.path)).equals(image)).toBe(true);
    const gone = await pullContainer(
      { simg: join(root, 'none.sif') },
      { cacheDir, mirror: 'x', transfer: {} },
      ctx(),
    ).catch((e) => e);
    expect(gone.message).toContain(join(root, 'none.sif'));
  });
});

const testbed = gridftpTestbed();

describe.skipIf(!testbed)('pulling an image over gsiftp (GridFTP test bed)', () => {
  const bed = testbed as GridftpTestbed;
  it('fetches <name>@<SIMG_COMMIT>.sif, as the launcher names it', async () => {
    const remote = await gridftpWorkDir(bed, 'img-');
    try {
      const image = randomBytes(1024 * 1024);
      const commit = md5(image);
      await writeFile(join(remote.path, `lofar@${commit}.sif`), image);
      const transfer = { proxy: bed.proxy, certDir: bed.certDir, gfalPython: bed.gfalPython };
      const cacheDir = join(root, 'node-g');
      const pulled = await pullContainer(
        { simg: `${remote.url}/lofar.sif`, commit },
        { cacheDir, mirror: 'x', transfer },
        ctx(),
      );
      expect(pulled.source).toBe(`${remote.url}/lofar@${commit}.sif`);
      expect((await readFile(pulled.path)).equals(image)).toBe(true);
      const again = await pullContainer(
        { simg: `${remote.url}/lofar.sif`, commit },
        { cacheDir, mirror: 'x', transfer },
        ctx(),
      );
      expect(again.fromCache).toBe(true);
    } finally {
      await rm(remote.path, { recursive: true, force: true });
    }
  });
});
