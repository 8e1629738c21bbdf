import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Adler32, adler32, adler32File, normalizeAdler32, updateFromFile } from '../../src/transfer';
import { zlibAdler32 } from './reference';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lrt-adler-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('adler32', () => {
  it('matches the published vectors', () => {
    // RFC 1950 / Wikipedia example and the trivial cases: adler32('') is 1, 'a' is 0x00620062.
    expect(adler32('Wikipedia')).toBe('11e60398');
    expect(adler32('')).toBe('00000001');
    expect(adler32('a')).toBe('00620062');
    expect(adler32('abc')).toBe('024d0127');
    expect(adler32('message digest')).toBe('29750586');
  });

  it('gives the same value however the bytes are split into chunks', () => {
    const data = randomBytes(100_000);
    const whole = adler32(data);
    const sum = new Adler32();
    let at = 0;
    for (const size of [1, 7, 5551, 5552, 5553, 65536]) {
      sum.update(data.subarray(at, at + size));
      at += size;
    }
    sum.update(data.subarray(at));
    expect(sum.hex()).toBe(whole);
    expect(sum.bytes).toBe(data.length);
  });

  it('matches zlib on random data and on all-0xff data (largest sums between reductions)', async () => {
    for (const [name, data] of [
      ['random', randomBytes(3 * 1024 * 1024 + 17)],
      ['ff', Buffer.alloc(1024 * 1024, 0xff)],
    ] as const) {
      const path = join(dir, name);
      await writeFile(path, data);
      const reference = await zlibAdler32(path);
      expect(adler32(data)).toBe(reference);
      expect(await adler32File(path)).toBe(reference);
    }
  });

  it('sums a prefix of a file', async () => {
    const data = randomBytes(10_000);
    const path = join(dir, 'prefix');
    await writeFile(path, data);
    const sum = await updateFromFile(new Adler32(), path, { end: 4321 });
    expect(sum.hex()).toBe(adler32(data.subarray(0, 4321)));
    expect((await updateFromFile(new Adler32(), path, { end: 0 })).hex()).toBe('00000001');
  });

  it('appends the sum of bytes summed elsewhere (zlib adler32_combine)', () => {
    for (const data of [randomBytes(200_000), Buffer.alloc(200_000, 0xff)]) {
      for (const cut of [0, 1, 65_520, 65_521, 65_522, 131_042, 199_999, 200_000]) {
        const tail = data.subarray(cut);
        const sum = new Adler32()
          .update(data.subarray(0, cut))
          .append(new Adler32().update(tail).digest(), tail.length);
        expect(sum.hex(), `cut at ${cut}`).toBe(adler32(data));
        expect(sum.bytes).toBe(data.length);
      }
    }
  });

  it('continues a running sum with a file summed by zlib (a resumed download)', async () => {
    const data = randomBytes(2 * 1024 * 1024 + 3);
    const path = join(dir, 'resume');
    await writeFile(path, data.subarray(0, 1_500_000));
    const sum = await updateFromFile(new Adler32(), path);
    sum.update(data.subarray(1_500_000));
    expect(sum.hex()).toBe(adler32(data));
    expect(sum.bytes).toBe(data.length);
    await writeFile(path, '');
    expect((await updateFromFile(new Adler32().update('abc'), path)).hex()).toBe(adler32('abc'));
  });

  it('normalizes the forms catalogues use', () => {
    expect(normalizeAdler32('0x11E60398')).toBe('11e60398');
    expect(normalizeAdler32(' 84b021f ')).toBe('084b021f');
    expect(normalizeAdler32('not-a-sum')).toBeUndefined();
    expect(normalizeAdler32('123456789')).toBeUndefined();
  });
});
