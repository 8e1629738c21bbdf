import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTokenTemplate } from '../../src/picas/tokenConfig';
import { resultsFields, stageOutFiles, uploadResults } from '../../src/transfer/stageOut';
import { parseUpload, planStageOut } from '../../src/transfer/stageSpec';
import { failure } from '../helpers/errors';
import { zlibAdler32 } from './reference';
import { type StorageServer, startStorageServer } from './storageServer';

const FIXTURE = join(__dirname, '../fixtures/transfer/cal_pref3.json');
const NOW = new Date(Date.UTC(2019, 5, 14, 9, 7, 33));
// GRID_PiCaS_Launcher's hour mask %Y-%m-%d_%H-00 for NOW (UTC)
const HOUR = '2019-06-14_09-00';

/** A token as made from cal_pref3.json, its RESULTS_DIR pointed at `resultsDir`. */
async function calToken(resultsDir: string): Promise<Record<string, unknown>> {
  const config = JSON.parse(await readFile(FIXTURE, 'utf8'));
  config.Job.variables.RESULTS_DIR = resultsDir;
  return { _id: 't_pref3_cal_L229585_SB000', ...buildTokenTemplate(config, 'cal_pref3.json').fields };
}

/** Names in a tarball, as GNU tar lists them (trailing / of folders dropped). */
async function tarList(file: string): Promise<string[]> {
  const { stdout } = await execa('tar', ['-tf', file]);
  return stdout
    .split('\n')
    .map((l) => l.replace(/\/$/, ''))
    .sort();
}

describe('stage-out', () => {
  let work: string;
  let jobDir: string;
  let results: string;
  const files = new Map<string, Buffer>([
    ['solutions.h5', randomBytes(200_000)],
    ['plots/phase.png', randomBytes(5_000)],
    ['plots/amp.png', randomBytes(7_000)],
    ['log.txt', Buffer.from('done\n')],
  ]);

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'lrt-stageout-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });
  beforeEach(async () => {
    const id = Math.random().toString(36).slice(2);
    jobDir = join(work, `job-${id}`);
    results = join(work, `results-${id}`, 'pref_cal'); // its parents do not exist yet
    for (const [name, bytes] of files) {
      await mkdir(join(jobDir, 'Output', name, '..'), { recursive: true });
      await writeFile(join(jobDir, 'Output', name), bytes);
    }
  });

  describe('uploadResults (LOFAR upload rules)', () => {
    it('tars Output/ to location/template with $STARTSB and $DATE, creating the parents, verified', async () => {
      const token = await calToken(pathToFileURL(results).href);
      const upload = parseUpload(token.upload);
      const result = await uploadResults({ token, jobDir, upload, now: NOW });
      const dest = join(results, `CI_pref3_cal_000_${HOUR}.tar`);
      expect(result.location).toBe(pathToFileURL(dest).href);
      expect(result.bytes).toBe((await stat(dest)).size);
      expect(result.adler32).toBe(await zlibAdler32(dest));
      expect(result).toMatchObject({ sizeVerified: true, checksumVerified: true });
      // names relative to Output/, as the launcher's tarfile.add(cwd, arcname='') made them
      expect(await tarList(dest)).toEqual([
        'log.txt',
        'plots',
        'plots/amp.png',
        'plots/phase.png',
        'solutions.h5',
      ]);
      const out = join(work, `untar-${Math.random()}`);
      await mkdir(out);
      await execa('tar', ['-xf', dest, '-C', out]);
      for (const [name, bytes] of files) expect((await readFile(join(out, name))).equals(bytes)).toBe(true);
      expect(resultsFields(result)).toEqual({
        Results_location: result.location,
        Results_size: result.bytes,
        Results_adler32: result.adler32,
      });
      // the temporary tarball is gone from the job dir
      expect((await readdir(jobDir)).sort()).toEqual(['Output']);
    });

    it('gzip gives a .tar.gz that gunzips', async () => {
      const token = await calToken(pathToFileURL(results).href);
      const upload = { ...parseUpload(token.upload), gzip: true };
      const result = await uploadResults({ token, jobDir, upload, now: NOW });
      expect(result.location.endsWith(`CI_pref3_cal_000_${HOUR}.tar.gz`)).toBe(true);
      const dest = join(results, `CI_pref3_cal_000_${HOUR}.tar.gz`);
      const head = (await readFile(dest)).subarray(0, 2);
      expect([...head]).toEqual([0x1f, 0x8b]);
      const { stdout } = await execa('tar', ['-tzf', dest]);
      expect(stdout.split('\n')).toContain('solutions.h5');
    });

    it('an existing destination is refused (exit 33) without overwrite and replaced with it', async () => {
      const token = await calToken(pathToFileURL(results).href);
      const upload = parseUpload(token.upload);
      const dest = join(results, `CI_pref3_cal_000_${HOUR}.tar`);
      await mkdir(results, { recursive: true });
      await writeFile(dest, 'earlier run\n');
      const err = await failure(uploadResults({ token, jobDir, upload, now: NOW }));
      expect(err.code).toBe('E_EXISTS');
      expect(err.exitCode).toBe(33);
      expect(err.message).toContain(pathToFileURL(dest).href);
      expect(await readFile(dest, 'utf8')).toBe('earlier run\n');

      const warnings: string[] = [];
      const result = await uploadResults({
        token,
        jobDir,
        upload: { ...upload, overwrite: true },
        now: NOW,
        onWarning: (w) => warnings.push(w),
      });
      expect(result.bytes).toBe((await stat(dest)).size);
      expect(await tarList(dest)).toContain('solutions.h5');
      expect(warnings.join('\n')).toContain('overwritten');
    });

    it('a missing or empty Output/ is exit 30', async () => {
      const token = await calToken(pathToFileURL(results).href);
      const upload = parseUpload(token.upload);
      await rm(join(jobDir, 'Output'), { recursive: true });
      const missing = await failure(uploadResults({ token, jobDir, upload, now: NOW }));
      expect(missing.exitCode).toBe(30);
      expect(missing.message).toContain('Output');
      await mkdir(join(jobDir, 'Output'));
      const empty = await failure(uploadResults({ token, jobDir, upload, now: NOW }));
      expect(empty.exitCode).toBe(30);
      expect(empty.message).toContain('empty');
    });

    it('an upload that cannot be written is exit 31, naming the destination', async () => {
      const blocker = join(work, `blocker-${Math.random()}`);
      await writeFile(blocker, 'a file where a folder should be');
      const token = await calToken(pathToFileURL(join(blocker, 'sub')).href);
      const err = await failure(
        uploadResults({ token, jobDir, upload: parseUpload(token.upload), now: NOW, retries: 0 }),
      );
      expect(err.exitCode).toBe(31);
      expect(err.message).toContain(blocker);
    });
  });

  describe('over http (scheme-agnostic)', () => {
    let server: StorageServer;
    beforeAll(async () => {
      server = await startStorageServer();
    });
    afterAll(async () => {
      await server.close();
    });

    it('uploads with parents created; a storage without Digest leaves the checksum unverified', async () => {
      const token = await calToken(`${server.url}/lofar/pref_cal`);
      const warnings: string[] = [];
      const result = await uploadResults({
        token,
        jobDir,
        upload: parseUpload(token.upload),
        now: NOW,
        onWarning: (w) => warnings.push(w),
      });
      const path = `/lofar/pref_cal/CI_pref3_cal_000_${HOUR}.tar`;
      expect(result.location).toBe(`${server.url}${path}`);
      expect(server.files.get(path)?.length).toBe(result.bytes);
      expect(result).toMatchObject({ sizeVerified: true, checksumVerified: false });
      expect(warnings.join('\n')).toMatch(/adler32 .* not verified/);
    });

    it('a destination reporting another adler32 is E_CHECKSUM, exit 31', async () => {
      const token = await calToken(`${server.url}/lofar/bad`);
      server.digests.set(`/lofar/bad/CI_pref3_cal_000_${HOUR}.tar`, '0badc0de');
      const err = await failure(
        uploadResults({ token, jobDir, upload: parseUpload(token.upload), now: NOW }),
      );
      expect(err.code).toBe('E_CHECKSUM');
      expect(err.exitCode).toBe(31);
      expect(err.message).toContain('0badc0de');
    });

    it('a failing PUT is retried, then exit 31 with the server reply', async () => {
      const token = await calToken(`${server.url}/refused`);
      server.redirectPut.set(`/refused/CI_pref3_cal_000_${HOUR}.tar`, '/loop');
      server.redirectPut.set('/loop', '/loop');
      const err = await failure(
        uploadResults({
          token,
          jobDir,
          upload: parseUpload(token.upload),
          now: NOW,
          retries: 1,
          sleep: async () => {},
        }),
      );
      expect(err.exitCode).toBe(31);
      expect(err.message).toContain('after 2 attempts');
      const puts = server.seen.filter((r) => r.method === 'PUT' && r.path.startsWith('/refused/'));
      expect(puts).toHaveLength(2);
    });
  });

  describe('stageOutFiles (plain mode)', () => {
    it('files: each to its URL, $VARS filled, a trailing / keeps the name', async () => {
      const token = { _id: 't1', OBSID: 'L229585', RESULTS_DIR: pathToFileURL(results).href };
      const plan = planStageOut({
        stage_out: {
          files: [
            { from: 'Output/solutions.h5', to: '$RESULTS_DIR/$OBSID/' },
            { from: 'Output/log.txt', to: '$RESULTS_DIR/$OBSID/logs/run_$DATE.txt' },
          ],
        },
      });
      if (plan?.kind !== 'files') throw new Error('expected a files plan');
      const result = await stageOutFiles({ token, jobDir, plan, now: NOW });
      expect(result.files.map((f) => f.location)).toEqual([
        pathToFileURL(join(results, 'L229585', 'solutions.h5')).href,
        pathToFileURL(join(results, 'L229585', 'logs', 'run_2019-06-14.txt')).href,
      ]);
      expect(await readFile(join(results, 'L229585', 'solutions.h5'))).toEqual(files.get('solutions.h5'));
      expect(result.bytes).toBe(files.get('solutions.h5')!.length + files.get('log.txt')!.length);
      expect(result.files[0]!.adler32).toBe(await zlibAdler32(join(jobDir, 'Output', 'solutions.h5')));
    });

    it('dir: every file under the folder, relative paths kept', async () => {
      const plan = planStageOut({ stage_out: { dir: 'Output', to: pathToFileURL(results).href } });
      if (plan?.kind !== 'dir') throw new Error('expected a dir plan');
      const result = await stageOutFiles({ token: { _id: 't1' }, jobDir, plan, now: NOW });
      expect(result.files.map((f) => f.from)).toEqual([...files.keys()].map((n) => `Output/${n}`).sort());
      for (const [name, bytes] of files)
        expect((await readFile(join(results, name))).equals(bytes)).toBe(true);
    });

    it('an existing destination stops the stage-out before anything moved; a missing source is exit 30', async () => {
      await mkdir(join(results, 'plots'), { recursive: true });
      await writeFile(join(results, 'plots', 'phase.png'), 'old');
      const plan = planStageOut({ stage_out: { dir: 'Output', to: pathToFileURL(results).href } });
      if (plan?.kind !== 'dir') throw new Error('expected a dir plan');
      const err = await failure(stageOutFiles({ token: { _id: 't1' }, jobDir, plan, now: NOW }));
      expect(err.exitCode).toBe(33);
      expect(await readdir(results)).toEqual(['plots']);

      const missing = planStageOut({ stage_out: { files: [{ from: 'Output/none.h5', to: 'file:///x/' }] } });
      if (missing?.kind !== 'files') throw new Error('expected a files plan');
      const err2 = await failure(stageOutFiles({ token: { _id: 't1' }, jobDir, plan: missing, now: NOW }));
      expect(err2.exitCode).toBe(30);
      expect(err2.message).toContain('Output/none.h5');
    });
  });
});
