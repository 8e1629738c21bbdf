import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchUrl, fileMover, moverFor, putUrl, statUrl } from '../../src/transfer';
import { failure } from '../helpers/errors';
import { zlibAdler32 } from './reference';

let dir: string;
let src: string;
let data: Buffer;
let sum: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lrt file mover '));
  data = randomBytes(1024 * 1024 + 7);
  src = join(dir, 'source file.bin');
  await writeFile(src, data);
  sum = await zlibAdler32(src);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('file mover', () => {
  it('fetches a file:// URL (spaces in the path) with its adler32, creating the parent dir', async () => {
    const url = pathToFileURL(src).href;
    expect(url).toContain('%20');
    const dest = join(dir, 'in', 'copy.bin');
    const got = await fetchUrl(url, dest);
    expect(got).toMatchObject({ bytes: data.length, adler32: sum, dest });
    expect((await readFile(dest)).equals(data)).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
    expect(moverFor(src)).toBe(fileMover);
  });

  it('puts into an existing directory, or creates it when asked', async () => {
    const target = join(dir, 'out', 'deep', 'put.bin');
    const err = await failure(putUrl(src, pathToFileURL(target).href));
    expect(err.code).toBe('E_TRANSFER');
    expect(err.message).toMatch(/destination directory does not exist: .*out\/deep/);
    expect(err.details.missingDestinationDir).toBe(true);
    expect(existsSync(target)).toBe(false);

    const put = await putUrl(src, pathToFileURL(target).href, { createDirs: true });
    expect(put).toMatchObject({ bytes: data.length, adler32: sum });
    expect((await readFile(target)).equals(data)).toBe(true);
  });

  it('reports a missing source as E_NOT_FOUND naming it', async () => {
    const missing = join(dir, 'missing.bin');
    const err = await failure(fetchUrl(pathToFileURL(missing).href, join(dir, 'never.bin')));
    expect(err.code).toBe('E_NOT_FOUND');
    expect(err.message).toContain(missing);
    expect(existsSync(join(dir, 'never.bin.part'))).toBe(false);
    expect((await failure(statUrl(missing))).code).toBe('E_NOT_FOUND');
  });

  it('keeps the old file when the checksum does not match', async () => {
    const dest = join(dir, 'keep.bin');
    await writeFile(dest, 'previous content');
    const err = await failure(fetchUrl(src, dest, { expectedAdler32: '00000001' }));
    expect(err.code).toBe('E_CHECKSUM');
    expect(await readFile(dest, 'utf8')).toBe('previous content');
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('stats and checksums local files', async () => {
    await mkdir(join(dir, 'adir'), { recursive: true });
    expect(await statUrl(src)).toMatchObject({ size: data.length, isDirectory: false });
    expect(await statUrl(pathToFileURL(join(dir, 'adir')).href)).toMatchObject({ isDirectory: true });
    expect(await fileMover.checksum!(src, 'adler32')).toBe(sum);
  });

  it('honours an aborted signal', async () => {
    const controller = new AbortController();
    const reason = new Error('stop now');
    controller.abort(reason);
    const err = await fetchUrl(src, join(dir, 'aborted.bin'), { signal: controller.signal }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBe(reason);
    expect(existsSync(join(dir, 'aborted.bin'))).toBe(false);
    expect(existsSync(join(dir, 'aborted.bin.part'))).toBe(false);
  });
});
