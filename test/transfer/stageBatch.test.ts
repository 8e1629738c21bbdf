import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { srmToGsiftp, type TransferOptions } from '../../src/transfer';
import { copyListLine, globusUrlCopyArgs, globusUrlCopyListArgs } from '../../src/transfer/gridArgs';
import { batchSource, MAX_BATCH_FILES, planGroups } from '../../src/transfer/stageBatch';
import { stageIn } from '../../src/transfer/stageIn';
import { failure } from '../helpers/errors';
import { type GridftpTestbed, gridftpTestbed, gridftpWorkDir } from '../helpers/gridftp';
import { zlibAdler32 } from './reference';

describe('batch planning', () => {
  const numbered = (n: number) => Array.from({ length: n }, (_, i) => i);

  it('splits the batchable items evenly, one batch per pool slot, in input order', () => {
    const groups = planGroups(numbered(50), 4, () => true);
    expect(groups.map((g) => g.items.length)).toEqual([13, 13, 12, 12]);
    expect(groups.flatMap((g) => g.items)).toEqual(numbered(50));
    expect(groups.map((g) => g.index)).toEqual([0, 1, 2, 3]);
  });

  it(`adds batches rather than put more than ${MAX_BATCH_FILES} files in one`, () => {
    const groups = planGroups(numbered(100), 1, () => true);
    expect(groups.length).toBe(Math.ceil(100 / MAX_BATCH_FILES));
    const sizes = groups.map((g) => g.items.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_BATCH_FILES);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(groups.flatMap((g) => g.items)).toEqual(numbered(100));
  });

  it('leaves other items alone, and does not batch when there is a slot for every file', () => {
    const urls = ['gsiftp://h/a', 'https://h/b', 'gsiftp://h/c', 'file:///d', 'gsiftp://h/e'];
    const groups = planGroups(urls, 1, (u) => u.startsWith('gsiftp'));
    expect(groups.map((g) => g.items)).toEqual([
      ['gsiftp://h/a', 'gsiftp://h/c', 'gsiftp://h/e'],
      ['https://h/b'],
      ['file:///d'],
    ]);
    expect(planGroups(numbered(2), 2, () => true).map((g) => g.items)).toEqual([[0], [1]]);
  });

  it('batches gsiftp and LTA srm URLs (through the site door), nothing else', () => {
    expect(batchSource('gsiftp://h:2811/pnfs/x/a.tar')).toBe('gsiftp://h:2811/pnfs/x/a.tar');
    const surl = 'srm://srm.grid.sara.nl:8443/pnfs/grid.sara.nl/data/lofar/ops/projects/x/L1_SB000_uv.MS.tar';
    expect(batchSource(surl)).toBe(srmToGsiftp(surl));
    expect(batchSource(surl)).toMatch(/^gsiftp:\/\/gridftp\.grid\.sara\.nl:2811\/pnfs\//);
    expect(batchSource('srm://srm.example.org:8443/pnfs/x')).toBeUndefined(); // no LTA site
    expect(batchSource('https://h/a.tar')).toBeUndefined();
    expect(batchSource('gsiftp://h/a"b.tar')).toBeUndefined();
  });

  it('writes -f lists with quoted URLs and the options of a single copy', () => {
    expect(copyListLine('gsiftp://h/a b', 'file:///in/a%20b.part')).toBe(
      '"gsiftp://h/a b" "file:///in/a%20b.part"',
    );
    expect(copyListLine('gsiftp://h/a\nb', 'file:///x')).toBeUndefined();
    const options: TransferOptions = { proxy: '/p.pem', parallel: 4, stallTimeoutSeconds: 60 };
    const single = globusUrlCopyArgs('S', 'D', options);
    const list = globusUrlCopyListArgs('/tmp/list.txt', options);
    // MODE E (-fast) keeps the data connection from file to file; -c goes on past a failed copy.
    expect(list).toEqual([...single.slice(0, -2), '-fast', '-c', '-f', '/tmp/list.txt']);
  });
});

const testbed = gridftpTestbed();

describe.skipIf(!testbed)('batched stage-in against the GSI GridFTP test bed', () => {
  const bed = testbed as GridftpTestbed;
  let local: string;
  let remote: { path: string; url: string };
  let opts: TransferOptions;
  const names = Array.from({ length: 6 }, (_, i) => `L2_SB00${i}_uv.MS.tar`);
  const sums: Record<string, string> = {};

  /** A globus-url-copy that logs its arguments; with `failLists`, refuses every `-f` run. */
  async function loggingTool(
    name: string,
    failLists = false,
  ): Promise<{ path: string; runs: () => Promise<string[][]> }> {
    const path = join(local, `${name}.sh`);
    const log = join(local, `${name}.log`);
    const refuse = failLists
      ? 'case " $* " in *" -f "*) echo "refused by the test" >&2; exit 1;; esac\n'
      : '';
    await writeFile(
      path,
      `#!/bin/bash\nprintf '%s\\t' "$@" >> '${log}'\necho >> '${log}'\n${refuse}exec globus-url-copy "$@"\n`,
    );
    await chmod(path, 0o755);
    return {
      path,
      runs: async () =>
        (await readFile(log, 'utf8').catch(() => ''))
          .split('\n')
          .filter(Boolean)
          .map((line) => line.split('\t').filter(Boolean)),
    };
  }

  beforeAll(async () => {
    local = await mkdtemp(join(tmpdir(), 'lrt-stage-batch-'));
    remote = await gridftpWorkDir(bed, 'batch-');
    for (const [i, name] of names.entries()) {
      await writeFile(join(remote.path, name), randomBytes(300_000 + i));
      sums[name] = await zlibAdler32(join(remote.path, name));
    }
    opts = { proxy: bed.proxy, certDir: bed.certDir, gfalPython: bed.gfalPython };
  });
  afterAll(async () => {
    await rm(local, { recursive: true, force: true });
    await rm(remote.path, { recursive: true, force: true });
  });

  it('moves six files with two globus-url-copy runs, each copy verified, the progress adding up', async () => {
    const tool = await loggingTool('two-batches');
    const inputDir = join(local, 'job1', 'Input');
    const seen: number[] = [];
    const result = await stageIn({
      urls: names.map((n) => `${remote.url}/${n}`),
      inputDir,
      concurrency: 2,
      expectedAdler32: sums,
      options: { ...opts, tools: { 'globus-url-copy': tool.path } },
      progressIntervalMs: 0,
      onProgress: (p) => seen.push(p.bytes),
    });
    const runs = await tool.runs();
    expect(runs.length).toBe(2);
    for (const run of runs) expect(run.slice(-3, -1)).toEqual(['-c', '-f']);
    expect((await readdir(inputDir)).sort()).toEqual(names);
    const total = names.reduce((n, _, i) => n + 300_000 + i, 0);
    expect(result.bytes).toBe(total);
    expect(seen[seen.length - 1]).toBe(total);
    for (const [i, name] of names.entries()) {
      expect(result.files[i]).toMatchObject({ path: join(inputDir, name), adler32: sums[name], attempts: 1 });
      expect((await readFile(join(inputDir, name))).equals(await readFile(join(remote.path, name)))).toBe(
        true,
      );
    }
  });

  it('a missing file in a batch: the others are kept by checksum, the missing one fails as E_NOT_FOUND', async () => {
    const tool = await loggingTool('missing');
    const inputDir = join(local, 'job2', 'Input');
    const urls = [...names.slice(0, 3), 'L2_SB999_absent.MS.tar'].map((n) => `${remote.url}/${n}`);
    const err = await failure(
      stageIn({
        urls,
        inputDir,
        concurrency: 1,
        expectedAdler32: sums,
        options: { ...opts, tools: { 'globus-url-copy': tool.path } },
      }),
    );
    expect(err.code).toBe('E_NOT_FOUND');
    expect(err.message).toContain(`${remote.url}/L2_SB999_absent.MS.tar`);
    expect(err.message).toContain('after 1 attempt:');
    // One batch for all four, then the missing file alone (the single-file path reports it).
    const runs = await tool.runs();
    expect(runs.map((r) => r.includes('-f'))).toEqual([true, false]);
    expect(runs[1]!.slice(-2)[0]).toBe(`${remote.url}/L2_SB999_absent.MS.tar`);
    expect((await readdir(inputDir)).filter((f) => f.endsWith('.part'))).toEqual([]);
  });

  it('after a failed batch, copies no checksum can prove are fetched again', async () => {
    const tool = await loggingTool('unproven');
    const urls = [...names.slice(0, 2), 'L2_SB998_absent.MS.tar'].map((n) => `${remote.url}/${n}`);
    const err = await failure(
      stageIn({
        urls,
        inputDir: join(local, 'job2b', 'Input'),
        concurrency: 1,
        storageChecksums: false,
        options: { ...opts, tools: { 'globus-url-copy': tool.path } },
      }),
    );
    expect(err.code).toBe('E_NOT_FOUND');
    expect((await tool.runs()).map((r) => r.includes('-f'))).toEqual([true, false, false, false]);
  });

  it('a copy with the wrong token checksum is fetched again alone, then fails with E_CHECKSUM', async () => {
    const inputDir = join(local, 'job3', 'Input');
    const warnings: string[] = [];
    const err = await failure(
      stageIn({
        urls: names.slice(0, 4).map((n) => `${remote.url}/${n}`),
        inputDir,
        concurrency: 1,
        expectedAdler32: { ...sums, [names[2]!]: '00000001' },
        options: opts,
        sleep: async () => {},
        onWarning: (w) => warnings.push(w),
      }),
    );
    expect(err.code).toBe('E_CHECKSUM');
    expect(err.message).toContain(names[2]);
    expect(err.details.attempts).toBe(2);
    expect(warnings[0]).toContain(`batch copy of ${remote.url}/${names[2]} has adler32 ${sums[names[2]!]}`);
    expect(await readdir(inputDir)).not.toContain(names[2]);
  });

  it('when the batch run fails, every file is fetched alone and still arrives', async () => {
    const tool = await loggingTool('refusing', true);
    const inputDir = join(local, 'job4', 'Input');
    const result = await stageIn({
      urls: names.slice(0, 3).map((n) => `${remote.url}/${n}`),
      inputDir,
      concurrency: 1,
      storageChecksums: false, // nothing to prove a batch copy by: each is fetched again
      options: { ...opts, tools: { 'globus-url-copy': tool.path } },
    });
    expect((await tool.runs()).map((r) => r.includes('-f'))).toEqual([true, false, false, false]);
    expect(result.files.map((f) => f.adler32)).toEqual(names.slice(0, 3).map((n) => sums[n]));
    expect((await readdir(inputDir)).sort()).toEqual(names.slice(0, 3));
  });
});
