import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TransferOptions } from '../../src/transfer';
import { stageIn } from '../../src/transfer/stageIn';
import { uploadResults } from '../../src/transfer/stageOut';
import { parseUpload } from '../../src/transfer/stageSpec';
import { failure } from '../helpers/errors';
import { type GridftpTestbed, gridftpTestbed, gridftpWorkDir } from '../helpers/gridftp';
import { zlibAdler32 } from './reference';

const testbed = gridftpTestbed();

describe.skipIf(!testbed)('stage-in and upload against the GSI GridFTP test bed', () => {
  const bed = testbed as GridftpTestbed;
  let local: string;
  let remote: { path: string; url: string };
  let opts: TransferOptions;
  const names = ['L229585_SB000_uv.MS.tar', 'L229585_SB001_uv.MS.tar'];

  beforeAll(async () => {
    local = await mkdtemp(join(tmpdir(), 'lrt-stage-gsiftp-'));
    remote = await gridftpWorkDir(bed, 'stage-');
    for (const [i, name] of names.entries())
      await writeFile(join(remote.path, name), randomBytes(400_000 + i));
    opts = { proxy: bed.proxy, certDir: bed.certDir, gfalPython: bed.gfalPython };
  });
  afterAll(async () => {
    await rm(local, { recursive: true, force: true });
    await rm(remote.path, { recursive: true, force: true });
  });

  it('stages gsiftp inputs in, checked against the server adler32 (gfal-sum)', async () => {
    const inputDir = join(local, 'job1', 'Input');
    const warnings: string[] = [];
    const result = await stageIn({
      urls: names.map((n) => `${remote.url}/${n}`),
      inputDir,
      concurrency: 2,
      options: opts,
      onWarning: (w) => warnings.push(w),
    });
    expect((await readdir(inputDir)).sort()).toEqual(names);
    for (const [i, name] of names.entries()) {
      expect((await readFile(join(inputDir, name))).equals(await readFile(join(remote.path, name)))).toBe(
        true,
      );
      expect(result.files[i]!.adler32).toBe(await zlibAdler32(join(remote.path, name)));
    }
    expect(result.bytes).toBe(400_000 + 400_001);
    expect(warnings).toEqual([]); // the storage checksum was available and matched
  });

  it('a missing file is E_NOT_FOUND with the tool stderr, not retried; a wrong token checksum keeps nothing', async () => {
    const inputDir = join(local, 'job2', 'Input');
    const missing = await failure(
      stageIn({ urls: [`${remote.url}/absent.MS.tar`], inputDir, options: opts, retries: 3 }),
    );
    expect(missing.code).toBe('E_NOT_FOUND');
    expect(missing.message).toContain(`${remote.url}/absent.MS.tar`);
    expect(missing.message).toContain('after 1 attempt:');
    expect(missing.message).toContain('globus-url-copy said');

    const bad = await failure(
      stageIn({
        urls: [`${remote.url}/${names[0]}`],
        inputDir,
        options: opts,
        expectedAdler32: { [names[0]!]: '00000001' },
        sleep: async () => {},
      }),
    );
    expect(bad.code).toBe('E_CHECKSUM');
    expect(bad.details.attempts).toBe(2);
    expect(await readdir(inputDir)).toEqual([]);
  });

  it('uploads Output/ as a tarball into a new remote folder, verified by gfal; a second run is exit 33', async () => {
    const jobDir = join(local, 'job3');
    await mkdir(join(jobDir, 'Output', 'plots'), { recursive: true });
    await writeFile(join(jobDir, 'Output', 'cal_solutions.h5'), randomBytes(300_000));
    await writeFile(join(jobDir, 'Output', 'plots', 'a.png'), randomBytes(2_000));
    const token = {
      _id: 't_pref3_cal_L229585_SB000',
      RESULTS_DIR: `${remote.url}/results/pref_cal`,
      STARTSB: '000',
      upload: { location: '$RESULTS_DIR', template: 'CI_pref3_cal_$STARTSB', gzip: true },
    };
    const upload = parseUpload(token.upload);
    const result = await uploadResults({ token, jobDir, upload, options: opts });
    const remoteFile = join(remote.path, 'results', 'pref_cal', 'CI_pref3_cal_000.tar.gz');
    expect(result.location).toBe(`${remote.url}/results/pref_cal/CI_pref3_cal_000.tar.gz`);
    expect(result.bytes).toBe((await stat(remoteFile)).size);
    expect(result.adler32).toBe(await zlibAdler32(remoteFile));
    expect(result).toMatchObject({ sizeVerified: true, checksumVerified: true });
    const { stdout } = await execa('tar', ['-tzf', remoteFile]);
    expect(stdout.split('\n')).toEqual(expect.arrayContaining(['cal_solutions.h5', 'plots/a.png']));

    const again = await failure(uploadResults({ token, jobDir, upload, options: opts }));
    expect(again.code).toBe('E_EXISTS');
    expect(again.exitCode).toBe(33);
  });
});
