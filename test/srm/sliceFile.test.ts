import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isLrtError, type LrtError } from '../../src/core';
import {
  type Chunk,
  parseSurlListText,
  readSurlListFile,
  type SlicedChunk,
  sliceBySubband,
  sliceSurlListFile,
} from '../../src/srm';
import { fixturePath, fixtureText } from './fixtures';

const dir = mkdtempSync(join(tmpdir(), 'lrt-slicefile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function fileWith(text: string | Buffer): string {
  const path = join(dir, `list${++files}.txt`);
  writeFileSync(path, text);
  return path;
}

async function streamed(path: string, perToken: number, pattern?: { prefix: string; suffix: string }) {
  const slices = await sliceSurlListFile(path, 'list.txt', { perToken, pattern });
  const chunks: SlicedChunk[] = [];
  for await (const chunk of slices.chunks()) chunks.push(chunk);
  return { slices, chunks };
}

const asPlain = (chunks: readonly Chunk[]) =>
  chunks.map((c) => ({ key: c.key, start: c.start, surls: c.entries.map((e) => e.surl) }));

async function caught(promise: Promise<unknown>): Promise<LrtError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (isLrtError(err)) return err;
  throw new Error(`expected an LrtError, got ${String(err)}`);
}

const sara = fixtureText('srm_50_sara.txt').trim().split('\n');

describe('sliceSurlListFile: sliceBySubband without holding the list', () => {
  it.each([1, 3, 10, 25])('cuts srm_50_sara.txt by %i as sliceBySubband does', async (perToken) => {
    const { slices, chunks } = await streamed(fixturePath('srm_50_sara.txt'), perToken);
    const inMemory = sliceBySubband(parseSurlListText(fixtureText('srm_50_sara.txt')), perToken);
    expect(chunks.map(({ key, start, surls }) => ({ key, start, surls }))).toEqual(asPlain(inMemory));
    expect(chunks.map((c) => c.subbands)).toEqual(
      inMemory.map((c) => c.entries.map((e) => Number(/SB(\d+)_/.exec(e.path)![1]))),
    );
    expect(slices.chunkCount).toBe(inMemory.length);
    expect(slices.obsid).toBe('L229507');
    expect(slices.site).toBe('sara');
    expect(slices.surlCount).toBe(sara.length);
  });

  it('finds the SB<digits>. form by itself, as the list command does', async () => {
    const { slices, chunks } = await streamed(fixturePath('cal1_srm_test.txt'), 10);
    const inMemory = sliceBySubband(parseSurlListText(fixtureText('cal1_srm_test.txt')), 10, {
      prefix: 'SB',
      suffix: '.',
    });
    expect(slices.pattern).toEqual({ prefix: 'SB', suffix: '.' });
    expect(chunks.map((c) => c.surls)).toEqual(asPlain(inMemory).map((c) => c.surls));
  });

  it('a list out of order, with CRLF, CR, comments and a SURL given twice, makes the same chunks', async () => {
    const shuffled = [...sara].reverse();
    const text = `\uFEFF# reversed\r\n${shuffled.slice(0, 20).join('\r\n')}\r${shuffled.slice(20).join('\n')}\n\n${sara[7]}\n`;
    const { slices, chunks } = await streamed(fileWith(text), 10);
    const inMemory = sliceBySubband(parseSurlListText(fixtureText('srm_50_sara.txt')), 10);
    expect(chunks.map((c) => c.surls)).toEqual(asPlain(inMemory).map((c) => c.surls));
    expect(slices.duplicatesDropped).toBe(1);
  });

  it('names the planned chunk of a subband, and none for a subband not in the list', async () => {
    const { slices } = await streamed(fixturePath('srm_50_sara.txt'), 10);
    expect(slices.chunkOf(113)).toEqual({
      key: '110',
      subbands: [110, 111, 112, 113, 114, 115, 116, 117, 118, 119],
    });
    expect(slices.chunkOf(99)).toBeUndefined();
    expect(slices.chunkOf(200)).toBeUndefined();
  });

  it('reports bad lines as readSurlListFile does, all together, before any chunk', async () => {
    const text = `${sara[0]}\nnot a surl\n/pnfs/bare/path\n${sara[1]}\n`;
    const path = fileWith(text);
    const streamedErr = await caught(sliceSurlListFile(path, 'bad.txt', { perToken: 10 }));
    const wholeErr = await caught(readSurlListFile(path, 'bad.txt'));
    expect(streamedErr.code).toBe('E_SURL_LIST');
    expect(streamedErr.message).toBe(wholeErr.message);
    expect(streamedErr.message).toContain('2 bad lines in bad.txt');
  });

  it('refuses two SURLs of one subband, naming both lines', async () => {
    const other = sara[0]!.replace('3d78b8f1', 'ffffffff');
    const err = await caught(
      sliceSurlListFile(fileWith(`${sara[0]}\n${sara[1]}\n${other}\n`), 'dup.txt', { perToken: 10 }),
    );
    expect(err.message).toContain(
      'subband 100 is named by 2 different SURLs (dup.txt line 1, dup.txt line 3)',
    );
  });

  it('refuses SURLs without a subband, a list of another observation, and bytes that are not UTF-8', async () => {
    const without = await caught(
      sliceSurlListFile(fixturePath('cal1_srm_test.txt'), 'cal1.txt', {
        perToken: 10,
        pattern: { prefix: 'SB', suffix: '_' },
      }),
    );
    expect(without.message).toMatch(/^cal1\.txt line 1: no subband SB<digits>_ in the file name of "gsiftp:/);
    expect(without.message).toContain('(and 319 more SURLs)');

    const otherObs = sara[1]!.replaceAll('L229507', 'L1');
    const mixed = await caught(
      sliceSurlListFile(fileWith(`${sara[0]}\n${otherObs}\n`), 'mix.txt', { perToken: 10 }),
    );
    expect(mixed.message).toContain('Different OBSID than previous items: mix.txt line 2 has L1');

    const latin1 = Buffer.concat([Buffer.from(`${sara[0]}\n${sara[1]}\n`), Buffer.from([0x23, 0xe9, 0x0a])]);
    const notUtf8 = await caught(sliceSurlListFile(fileWith(latin1), 'l1.txt', { perToken: 10 }));
    expect(notUtf8.message).toBe('l1.txt line 3: byte 2 (0xE9) is not UTF-8; save the file as UTF-8');

    const missing = await caught(sliceSurlListFile(join(dir, 'nope.txt'), 'nope.txt', { perToken: 10 }));
    expect(missing.code).toBe('E_NOT_FOUND');
    const empty = await caught(sliceSurlListFile(fileWith('# nothing\n'), 'empty.txt', { perToken: 10 }));
    expect(empty.message).toBe('empty.txt holds no SURLs');
  });
});
