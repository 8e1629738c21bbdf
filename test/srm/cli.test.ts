import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/exitCodes';
import { lrt, lrtProcess } from '../helpers/cli';
import { expected, FIXTURES, fixtureLines } from './fixtures';

const inFixtures = { cwd: FIXTURES };

describe('lrt srm info', () => {
  it('shows OBSID, site, count and subband range', async () => {
    const fx = expected['srm_50_sara.txt'];
    const r = await lrt(['srm', 'info', 'srm_50_sara.txt'], inFixtures);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^obsid +${fx.obsid}$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^site +${fx.lta_location}$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^surls +${fx.count}$`, 'm'));
    expect(r.stdout).toMatch(/^subbands +100-150 \(51 present; form SB<digits>_/m);
    expect(r.stdout).toMatch(/^missing +none$/m);
  });

  it('--json gives the same facts with missing subbands as ranges', async () => {
    const r = await lrt(
      ['srm', 'info', '--json', '--sb-prefix', 'ABN_', '--sb-suffix', '.', 'dysco_test.txt'],
      inFixtures,
    );
    expect(r.exitCode).toBe(0);
    const info = JSON.parse(r.stdout);
    const fx = expected['dysco_test.txt'];
    expect(info).toMatchObject({
      source: 'dysco_test.txt',
      obsid: fx.obsid,
      site: fx.lta_location,
      count: fx.count,
      duplicatesDropped: 0,
      subbands: { pattern: { prefix: 'ABN_', suffix: '.' }, first: 104, last: 344, count: 25 },
    });
    // 104, 114, ..., 344: nine missing between each pair.
    expect(info.subbands.missing).toHaveLength(24);
    expect(info.subbands.missing[0]).toEqual({ from: 105, to: 113 });
    expect(info.subbands.missingCount).toBe(24 * 9);
  });

  it('reports missing subbands and dropped duplicates of a file written here', async () => {
    const lines = fixtureLines('srm_50_sara.txt').filter((l) => !/_SB(10[5-7]|120)_/.test(l));
    const dir = await mkdtemp(join(tmpdir(), 'lrt-srm-cli-'));
    try {
      await writeFile(join(dir, 'gaps.txt'), `${lines.join('\n')}\n${lines[0]}\n`);
      const r = await lrt(['srm', 'info', 'gaps.txt'], { cwd: dir });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(/^surls +47$/m);
      expect(r.stdout).toMatch(/^duplicates +1 dropped$/m);
      expect(r.stdout).toMatch(/^missing +105-107, 120 \(4 subbands\)$/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('recognises the LOFAR subband forms by itself and names the form used', async () => {
    // instruments_L261539_SB216.tar: SB<digits>. ; L229507_SB100_uv.dppp.MS_...tar: SB<digits>_
    const cal = await lrtProcess(['srm', 'info', 'cal1_srm_test.txt'], inFixtures);
    expect(cal.exitCode).toBe(0);
    expect(cal.stdout).toMatch(
      /^subbands +0-319 \(320 present; form SB<digits>\., found in the file names\)$/m,
    );
    const uv = await lrtProcess(['srm', 'info', 'srm_50_sara.txt'], inFixtures);
    expect(uv.stdout).toMatch(
      /^subbands +100-150 \(51 present; form SB<digits>_, found in the file names\)$/m,
    );
    const json = JSON.parse(
      (await lrtProcess(['srm', 'info', '--json', 'cal1_srm_test.txt'], inFixtures)).stdout,
    );
    expect(json.subbands).toMatchObject({ form: 'SB<digits>.', detected: true, first: 0, last: 319 });
  });

  it('says which forms it tried when no file name has a subband, and how to give one', async () => {
    const r = await lrtProcess(['srm', 'info', 'dysco_test.txt'], inFixtures);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(
      /^subbands +no file name has a subband as SB<digits>_ or SB<digits>\.: give the form with --sb-prefix \/ --sb-suffix$/m,
    );
    const given = await lrtProcess(
      ['srm', 'info', '--sb-prefix', 'ABN_', '--sb-suffix', '.', 'dysco_test.txt'],
      inFixtures,
    );
    expect(given.stdout).toMatch(
      /^subbands +104-344 \(25 present; form ABN_<digits>\., from --sb-prefix\/--sb-suffix\)$/m,
    );
  });

  it('bad input exits 7 with the file and line; a missing file exits 5', async () => {
    const ls = await lrt(['srm', 'info', 'ls_outputs/gfal_ls_sandbox_dir.txt'], inFixtures);
    expect(ls.exitCode).toBe(EXIT.invalidInput);
    expect(ls.stderr).toContain("lrt: ls_outputs/gfal_ls_sandbox_dir.txt looks like 'gfal-ls -l' output");
    const spider = await lrt(['srm', 'info', '--json', 'spider/srm.txt'], inFixtures);
    expect(spider.exitCode).toBe(EXIT.invalidInput);
    const body = JSON.parse(spider.stdout);
    expect(body.error.code).toBe('E_SURL_LIST');
    expect(body.error.source).toBe('spider/srm.txt');
    expect(body.error.problems[0]).toMatchObject({ line: 1 });
    const missing = await lrt(['srm', 'info', 'nope.txt'], inFixtures);
    expect(missing.exitCode).toBe(EXIT.notFound);
    expect(missing.stderr).toContain('SURL list nope.txt not found');
    // a folder given for the list (tab completion stops at the folder): said so, not 'EISDIR'
    const folder = await lrt(['srm', 'links', 'spider'], inFixtures);
    expect(folder.exitCode).toBe(EXIT.usage);
    expect(folder.stderr).toBe('lrt: SURL list spider is a folder: give the file in it\n');
  });

  it('--json of a list whose names have no subband in the form tried: first and last are null, as --help says', async () => {
    const r = await lrt(['srm', 'info', '--json', 'dysco_test.txt'], inFixtures);
    expect(r.exitCode).toBe(0);
    const { subbands } = JSON.parse(r.stdout);
    expect(subbands).toMatchObject({ first: null, last: null, count: 0, withoutSubband: 25 });
    const help = await lrt(['srm', 'info', '--help']);
    expect(help.stdout).toContain('first, last (null when no file name has one)');
  });

  it('has --help and needs FILE', async () => {
    const help = await lrt(['srm', 'info', '--help']);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('Usage: lrt srm info [options] FILE');
    const none = await lrt(['srm', 'info']);
    expect(none.exitCode).toBe(EXIT.usage);
    expect(none.stderr).toContain('missing FILE');
  });
});

describe('lrt srm links', () => {
  it('prints gsiftp links by default, in input order', async () => {
    const r = await lrt(['srm', 'links', 'srm_50_sara.txt'], inFixtures);
    expect(r.exitCode).toBe(0);
    const links = r.stdout.trimEnd().split('\n');
    const want = fixtureLines('srm_50_sara.txt').map((l) =>
      l.replace('srm://srm.grid.sara.nl:8443', 'gsiftp://gridftp.grid.sara.nl:2811'),
    );
    expect(links).toEqual(want);
    expect(links.slice(-3).reverse()).toEqual(expected['srm_50_sara.txt'].gsi_links_python_order);
  });

  it.each([
    ['https', 'http_links_python_order'],
    ['gfal', 'gfal_links_python_order'],
  ] as const)('--kind %s --json', async (kind, pythonKey) => {
    const r = await lrt(['srm', 'links', '--kind', kind, '--json', 'srm_50_sara.txt'], inFixtures);
    expect(r.exitCode).toBe(0);
    const body = JSON.parse(r.stdout);
    expect(body).toMatchObject({ obsid: 'L229507', site: 'sara', kind });
    expect(body.links).toHaveLength(51);
    expect(body.links.slice(-3).reverse()).toEqual(expected['srm_50_sara.txt'][pythonKey]);
  });

  it('--kind srm turns a gsiftp list into SURLs', async () => {
    const r = await lrt(['srm', 'links', '--kind', 'srm', 'cal1_srm_test.txt'], inFixtures);
    expect(r.exitCode).toBe(0);
    const want = fixtureLines('cal1_srm_test.txt').map((l) =>
      l.replace('gsiftp://gridftp.grid.sara.nl:2811', 'srm://srm.grid.sara.nl:8443'),
    );
    expect(r.stdout.trimEnd().split('\n')).toEqual(want);
  });

  it('refuses an unknown kind with a usage error', async () => {
    const r = await lrt(['srm', 'links', '--kind', 'davs', 'srm_1_sara.txt'], inFixtures);
    expect(r.exitCode).toBe(EXIT.usage);
    expect(r.stderr).toContain('--kind must be one of srm, gsiftp, https, gfal, got "davs"');
  });
});

describe('lrt srm slice', () => {
  it('prints key, count and subband range per chunk', async () => {
    const r = await lrt(['srm', 'slice', '--per-token', '10', 'srm_50_sara.txt'], inFixtures);
    expect(r.exitCode).toBe(0);
    const want = Object.entries(expected['srm_50_sara.txt'].slices['10']!).map(([key, surls]) => {
      const sbs = surls.map((s) => Number(/_SB(\d+)_/.exec(s)![1]));
      return `${key}\t${surls.length}\t${sbs[0]}-${sbs[sbs.length - 1]}`;
    });
    expect(r.stdout.trimEnd().split('\n')).toEqual(want);
    expect(r.stderr).toContain(
      '6 chunks of at most 10 subbands from 51 SURLs (L229507, sara; form SB<digits>_, found in the file names)',
    );
  });

  it('a count of one is singular: 1 chunk, 1 subband, 1 SURL (was "1 chunks ... 1 subbands from 1 SURLs")', async () => {
    const one = await lrt(['srm', 'slice', '--per-token', '1', 'srm_1_sara.txt'], inFixtures);
    expect(one.exitCode).toBe(0);
    expect(one.stderr).toBe(
      '1 chunk of at most 1 subband from 1 SURL (L229507, sara; form SB<digits>_, found in the file names)\n',
    );
    // srm info: one subband missing, one SURL without a subband
    const dir = await mkdtemp(join(tmpdir(), 'lrt-srm-one-'));
    try {
      const lines = fixtureLines('srm_50_sara.txt').filter((l) => !l.includes('_SB102_'));
      lines.push(lines[0]!.replace(/_SB100_[^/]*$/, '_notes.tar'));
      await writeFile(join(dir, 'gap.txt'), `${lines.join('\n')}\n`);
      const info = await lrt(['srm', 'info', 'gap.txt'], { cwd: dir });
      expect(info.exitCode).toBe(0);
      expect(info.stdout).toContain('missing    102 (1 subband)\n');
      expect(info.stdout).toContain('no subband 1 SURL\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a list whose names have no SB<digits> form: the error names the flags to give the form with', async () => {
    const r = await lrt(['srm', 'slice', 'dysco_test.txt'], inFixtures);
    expect(r.exitCode).toBe(EXIT.invalidInput);
    expect(r.stderr).toMatch(
      /^lrt: dysco_test\.txt line 1: no subband SB<digits>_ in the file name of ".*GSM_CAL_L640667_ABN_314\.tar\.gz" \(and 24 more SURLs\); give the form the file names use with --sb-prefix \/ --sb-suffix\n$/,
    );
    const fixed = await lrt(
      ['srm', 'slice', '--sb-prefix', 'ABN_', '--sb-suffix', '.', 'dysco_test.txt'],
      inFixtures,
    );
    expect(fixed.exitCode, fixed.stderr).toBe(0);
  });

  it('--json gives an object with named fields; its chunks are the Python slice_dicts', async () => {
    for (const n of ['1', '50']) {
      const r = await lrtProcess(['srm', 'slice', '--per-token', n, '--json', 'srm_50_sara.txt'], inFixtures);
      expect(r.exitCode).toBe(0);
      const body = JSON.parse(r.stdout);
      expect(body).toMatchObject({
        source: 'srm_50_sara.txt',
        obsid: 'L229507',
        site: 'sara',
        perToken: Number(n),
        pattern: { prefix: 'SB', suffix: '_' },
        form: 'SB<digits>_',
        detected: true,
      });
      const want = expected['srm_50_sara.txt'].slices[n]!;
      expect(body.count).toBe(Object.keys(want).length);
      const byKey = Object.fromEntries(
        body.chunks.map((c: { key: string; surls: string[] }) => [c.key, c.surls]),
      );
      expect(byKey).toEqual(want);
      for (const c of body.chunks) expect(c.count).toBe(c.surls.length);
    }
    const help = await lrtProcess(['srm', 'slice', '--help']);
    expect(help.stdout).toContain('chunks: [{key, count, first, last, surls: [SURL, ...]}]');
  });

  it('finds the SB<digits>. form of calibrator solutions by itself, as --sb-suffix . does', async () => {
    const keys = async (args: string[]) => {
      const r = await lrtProcess(['srm', 'slice', '--per-token', '10', '--json', ...args], inFixtures);
      expect(r.exitCode).toBe(0);
      return JSON.parse(r.stdout)
        .chunks.map((c: { key: string }) => c.key)
        .sort();
    };
    const want = expected['cal1_srm_test.txt'].slice_keys_10_with_suff_dot;
    expect(await keys(['--sb-suffix', '.', 'cal1_srm_test.txt'])).toEqual(want);
    expect(await keys(['cal1_srm_test.txt'])).toEqual(want);
  });

  it('exits 7 when file names hold no subband, 2 for a bad --per-token', async () => {
    const noSb = await lrt(['srm', 'slice', 'dysco_test.txt'], inFixtures);
    expect(noSb.exitCode).toBe(EXIT.invalidInput);
    expect(noSb.stderr).toContain('dysco_test.txt line 1: no subband SB<digits>_');
    const bad = await lrt(['srm', 'slice', '--per-token', '0', 'srm_50_sara.txt'], inFixtures);
    expect(bad.exitCode).toBe(EXIT.usage);
    const empty = await lrt(['srm', 'slice', '--sb-prefix', '', 'srm_50_sara.txt'], inFixtures);
    expect(empty.exitCode).toBe(EXIT.usage);
  });

  it('has --help naming the options', async () => {
    const r = await lrt(['srm', 'slice', '-h']);
    expect(r.exitCode).toBe(0);
    for (const opt of ['--per-token N', '--sb-prefix TEXT', '--sb-suffix TEXT', '--json']) {
      expect(r.stdout).toContain(opt);
    }
  });
});

describe('lrt srm (group)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lrt-srm-grp-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists its three commands', async () => {
    const r = await lrt(['srm'], { cwd: dir });
    expect(r.stdout).toContain('srm info');
    expect(r.stdout).toContain('srm links');
    expect(r.stdout).toContain('srm slice');
  });
});
