import {
  chmod,
  link,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { create } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLrtError } from '../../src/core';
import { inspectArchive, safeExtract } from '../../src/sandbox/safeExtract';
import { failure } from '../helpers/errors';
import { buildTar, maliciousCases, writeTar } from '../helpers/tarFixtures';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lrt-extract-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh work area: `dest` (not created), a watched `outside` sibling, the archive path. */
async function area(name: string) {
  const dir = await mkdtemp(join(root, `${name.replace(/[^a-z0-9]+/gi, '_')}-`));
  const outside = join(dir, 'outside');
  await mkdir(outside);
  return { dir, dest: join(dir, 'dest'), outside, archive: join(dir, 'sandbox.tar') };
}

const umask = process.umask();

describe('tar fixture helper', () => {
  it('writes headers GNU tar reads back with the same names and types', async () => {
    const { archive } = await area('helper');
    await writeTar(archive, [
      { path: 'master.sh', body: 'echo hi\n', mode: 0o755 },
      { path: 'bin/', type: 'dir' },
      { path: 'bin/link', type: 'symlink', linkpath: '../master.sh' },
      { path: 'hard', type: 'hardlink', linkpath: 'master.sh' },
      { path: 'null', type: 'char', devmajor: 1, devminor: 3 },
      { path: 'pipe', type: 'fifo' },
      { path: `${'d'.repeat(60)}/${'f'.repeat(60)}.txt`, body: 'long' },
    ]);
    const { stdout } = await execa('tar', ['-tvf', archive]);
    const lines = stdout.split('\n');
    const typeOf = (name: string) => lines.find((l) => l.includes(` ${name}`))?.[0];
    expect(typeOf('master.sh')).toBe('-');
    expect(lines.find((l) => l.includes(' master.sh'))).toMatch(/^-rwxr-xr-x/);
    expect(typeOf('bin/')).toBe('d');
    expect(lines.find((l) => l.includes(' bin/link'))).toMatch(/^l.* bin\/link -> \.\.\/master\.sh$/);
    expect(lines.find((l) => l.includes(' hard'))).toMatch(/hard link to master\.sh$/);
    expect(typeOf('null')).toBe('c');
    expect(typeOf('pipe')).toBe('p');
    expect(stdout).toContain(`${'d'.repeat(60)}/${'f'.repeat(60)}.txt`);
  });
});

describe('safeExtract refuses unsafe archives and writes nothing', () => {
  for (const gzip of [false, true]) {
    for (const c of maliciousCases('/placeholder')) {
      it(`${c.name}${gzip ? ' (gzip)' : ''}`, async () => {
        const { dir, dest, outside, archive } = await area(c.name);
        const kase = maliciousCases(outside).find((m) => m.name === c.name)!;
        await writeTar(archive, kase.entries, { gzip });
        const before = await readdir(dir);

        const err = await failure(safeExtract(archive, dest, kase.limits));
        expect(err.code).toBe('E_UNSAFE_ENTRY');
        expect(err.message).toContain(`'${kase.culprit}'`);
        expect(err.details.entry).toBe(kase.culprit);
        expect(await readdir(dir)).toEqual(before);
        expect(await readdir(outside)).toEqual([]);

        const listed = await failure(inspectArchive(archive, kase.limits));
        expect(listed.details.entry).toBe(kase.culprit);
      });
    }
  }

  it('refuses a declared huge file from its header, before reading a body that is not there', async () => {
    const { dir, dest, archive } = await area('declared');
    const tar = buildTar([
      { path: 'master.sh', body: 'x' },
      { path: 'huge.bin', declaredSize: 2 ** 33 - 1 },
    ]);
    // Cut the archive right after the header: the 8 GiB body is only claimed.
    await writeFile(archive, tar.subarray(0, 3 * 512));
    const err = await failure(safeExtract(archive, dest, { maxBytes: 1024 ** 3 }));
    expect(err.code).toBe('E_UNSAFE_ENTRY');
    expect(err.details.entry).toBe('huge.bin');
    expect(err.message).toMatch(/tar bomb/);
    expect(await readdir(dir)).toEqual(['outside', 'sandbox.tar']);
  });

  it('refuses a symlink loop', async () => {
    const { dest, archive } = await area('loop');
    await writeTar(archive, [
      { path: 'a', type: 'symlink', linkpath: 'b/x' },
      { path: 'b', type: 'symlink', linkpath: 'a/y' },
    ]);
    const err = await failure(safeExtract(archive, dest));
    expect(err.code).toBe('E_UNSAFE_ENTRY');
    expect(err.message).toMatch(/loop/);
  });
});

describe('safeExtract extracts good archives', () => {
  /** A sandbox tree on disk, the way a user has it before packing. */
  async function sourceTree(dir: string) {
    const src = join(dir, 'src');
    await mkdir(join(src, 'bin'), { recursive: true });
    await mkdir(join(src, 'empty'));
    await writeFile(join(src, 'master.sh'), '#!/bin/bash\necho master\n');
    await chmod(join(src, 'master.sh'), 0o755);
    await writeFile(join(src, 'bin', 'setup.sh'), '#!/bin/bash\necho setup\n');
    await chmod(join(src, 'bin', 'setup.sh'), 0o750);
    await writeFile(join(src, 'parset.cfg'), 'msin=in.MS\n');
    await chmod(join(src, 'parset.cfg'), 0o644);
    await symlink('bin/setup.sh', join(src, 'setup'));
    await link(join(src, 'parset.cfg'), join(src, 'parset-copy.cfg'));
    return src;
  }

  async function expectSameTree(src: string, dest: string) {
    for (const name of ['master.sh', 'bin/setup.sh', 'parset.cfg', 'parset-copy.cfg']) {
      expect(await readFile(join(dest, name), 'utf8')).toBe(await readFile(join(src, name), 'utf8'));
      expect((await stat(join(dest, name))).mode & 0o777).toBe(
        (await stat(join(src, name))).mode & 0o777 & ~umask,
      );
    }
    expect((await stat(join(dest, 'master.sh'))).mode & 0o100).toBe(0o100);
    expect(await readlink(join(dest, 'setup'))).toBe('bin/setup.sh');
    expect((await stat(join(dest, 'empty'))).isDirectory()).toBe(true);
  }

  for (const gzip of [false, true]) {
    it(`tar package archive${gzip ? ' (.tar.gz)' : ' (.tar)'} with modes, links and an empty dir`, async () => {
      const { dir, dest } = await area(`good-${gzip}`);
      const src = await sourceTree(dir);
      const archive = join(dir, gzip ? 'sandbox.tar.gz' : 'sandbox.tar');
      await create({ file: archive, cwd: src, gzip, portable: true }, await readdir(src));
      const summary = await safeExtract(archive, dest);
      await expectSameTree(src, dest);
      expect(summary.gzip).toBe(gzip);
      expect(summary.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(await readdir(dir)).toEqual(expect.arrayContaining(['dest', 'outside', 'src']));
      expect((await readdir(dir)).filter((n) => n.includes('extract'))).toEqual([]);
    });
  }

  it('GNU tar archive of "." (./ prefixed entries)', async () => {
    const { dir, dest } = await area('gnu');
    const src = await sourceTree(dir);
    const archive = join(dir, 'sandbox.tgz');
    await execa('tar', ['-C', src, '-czf', archive, '.']);
    const summary = await safeExtract(archive, dest);
    await expectSameTree(src, dest);
    // GNU tar lists ./ and every file: count them with GNU tar itself.
    const { stdout } = await execa('tar', ['-tzf', archive]);
    expect(summary.entries).toBe(stdout.split('\n').filter(Boolean).length);
  });

  it('detects gzip by its magic bytes, not by the file name', async () => {
    const { dir } = await area('magic');
    const entries = [{ path: 'master.sh', body: 'echo magic\n', mode: 0o755 }];
    const gzNamedTar = join(dir, 'really-gzip.tar');
    await writeFile(gzNamedTar, gzipSync(buildTar(entries)));
    const tarNamedGz = join(dir, 'really-plain.tar.gz');
    await writeFile(tarNamedGz, buildTar(entries));
    expect((await safeExtract(gzNamedTar, join(dir, 'a'))).gzip).toBe(true);
    expect((await safeExtract(tarNamedGz, join(dir, 'b'))).gzip).toBe(false);
    expect(await readFile(join(dir, 'a', 'master.sh'), 'utf8')).toBe('echo magic\n');
    expect(await readFile(join(dir, 'b', 'master.sh'), 'utf8')).toBe('echo magic\n');
  });

  it('drops setuid/setgid bits and keeps owner access', async () => {
    const { dest, archive } = await area('setuid');
    await writeTar(archive, [
      { path: 'master.sh', body: 'x', mode: 0o4755 },
      { path: 'locked/', type: 'dir', mode: 0o500 },
      { path: 'locked/f.txt', body: 'y', mode: 0o400 },
    ]);
    await safeExtract(archive, dest);
    expect((await stat(join(dest, 'master.sh'))).mode & 0o7777).toBe(0o755 & ~umask);
    expect((await stat(join(dest, 'locked'))).mode & 0o700).toBe(0o700);
    expect((await stat(join(dest, 'locked', 'f.txt'))).mode & 0o600).toBe(0o600);
  });

  it('moves into an existing empty destination', async () => {
    const { dest, archive } = await area('emptydest');
    await mkdir(dest);
    await writeTar(archive, [{ path: 'master.sh', body: 'x' }]);
    await safeExtract(archive, dest);
    expect(await readdir(dest)).toEqual(['master.sh']);
  });
});

describe('safeExtract errors', () => {
  it('names a file that is not a tar archive', async () => {
    const { dir, dest, archive } = await area('html');
    await writeFile(archive, '<html><body>Service unavailable</body></html>\n'.repeat(30));
    const err = await failure(safeExtract(archive, dest, { label: 'https://example.org/sbx.tar' }));
    expect(err.code).toBe('E_SANDBOX');
    expect(err.message).toContain('https://example.org/sbx.tar');
    expect(await readdir(dir)).toEqual(['outside', 'sandbox.tar']);
  });

  it('leaves a non-empty destination alone and removes its temporary dir', async () => {
    const { dir, dest, archive } = await area('busy');
    await mkdir(dest);
    await writeFile(join(dest, 'mine.txt'), 'keep');
    await writeTar(archive, [{ path: 'master.sh', body: 'x' }]);
    const err = await failure(safeExtract(archive, dest));
    expect(err.code).toBe('E_SANDBOX');
    expect(await readdir(dest)).toEqual(['mine.txt']);
    expect((await readdir(dir)).sort()).toEqual(['dest', 'outside', 'sandbox.tar']);
  });

  it('stops on an aborted signal', async () => {
    const { dest, archive } = await area('abort');
    await writeTar(archive, [{ path: 'master.sh', body: 'x' }]);
    const controller = new AbortController();
    controller.abort(new Error('pilot stopping'));
    const err = await safeExtract(archive, dest, { signal: controller.signal }).catch((e: unknown) => e);
    expect(isLrtError(err)).toBe(false);
    expect((err as Error).message).toBe('pilot stopping');
  });
});
