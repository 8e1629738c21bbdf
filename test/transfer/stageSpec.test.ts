import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { LrtError } from '../../src/core';
import { buildTokenTemplate } from '../../src/picas/tokenConfig';
import { inputFileName, parseInputList, stageInUrls } from '../../src/transfer/inputList';
import { parseStageIn, parseUpload, planStageOut, uploadDestination } from '../../src/transfer/stageSpec';
import {
  DATE_GRANULARITIES,
  type DateGranularity,
  expandTemplate,
  formatUploadDate,
  tokenKeysOf,
} from '../../src/transfer/uploadTemplate';
import { thrownBy } from '../helpers/errors';

const FIXTURES = join(__dirname, '../fixtures/transfer');
const configOf = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));

/** The fields a token made from a GRID_LRT step config carries (as `lrt tokens create` makes them). */
function tokenFrom(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { _id: `t_${name}`, ...buildTokenTemplate(configOf(name), name).fields, ...extra };
}

// The strftime masks of GRID_PiCaS_Launcher's get_date(), run through Python itself as the oracle.
const LAUNCHER_MASKS: Record<DateGranularity, string> = {
  hour: '%Y-%m-%d_%H-00',
  minute: '%Y-%m-%d_%H-%M',
  month: '%Y-%m',
  week: '%Y-W%V',
  day: '%Y-%m-%d',
};

/** Python's strftime of each (date, mask) pair, in one process. */
async function pythonStrftime(pairs: [Date, string][]): Promise<string[]> {
  const { stdout } = await execa('/usr/bin/python3', [
    '-c',
    'import sys, datetime\nfor ms, mask in zip(sys.argv[1::2], sys.argv[2::2]):\n    t = datetime.datetime.fromtimestamp(int(ms) / 1000, tz=datetime.timezone.utc)\n    print(t.strftime(mask))',
    ...pairs.flatMap(([date, mask]) => [String(date.getTime()), mask]),
  ]);
  return stdout.trim().split('\n');
}

describe('$DATE as the launcher wrote it', () => {
  const dates = [
    new Date(Date.UTC(2019, 5, 14, 9, 7, 33)),
    new Date(Date.UTC(2024, 11, 30, 23, 59, 1)), // ISO week 1 of 2025, calendar year 2024
    new Date(Date.UTC(2021, 0, 3, 0, 0, 0)), // ISO week 53 of 2020
    new Date(Date.UTC(2020, 1, 29, 12, 30, 0)),
  ];
  it('every granularity matches Python strftime of the launcher mask', async () => {
    const pairs = DATE_GRANULARITIES.flatMap((g) => dates.map((d): [Date, string] => [d, LAUNCHER_MASKS[g]]));
    const ours = DATE_GRANULARITIES.flatMap((g) => dates.map((d) => formatUploadDate(d, g)));
    expect(ours).toEqual(await pythonStrftime(pairs));
  });
});

describe('upload destination (cal_pref3.json token)', () => {
  const token = tokenFrom('cal_pref3.json');
  const config = configOf('cal_pref3.json');
  const now = new Date(Date.UTC(2019, 5, 14, 9, 7, 33));

  it('fills $RESULTS_DIR, $STARTSB and $DATE (hour) and appends .tar', async () => {
    const upload = parseUpload(token.upload);
    expect(upload.dateGranularity).toBe(config.Token.upload.date_granularity);
    const dest = uploadDestination(upload, token, now);
    const [date] = await pythonStrftime([[now, LAUNCHER_MASKS.hour]]);
    const expected = `${config.Job.variables.RESULTS_DIR}/CI_pref3_cal_${config.Job.variables.STARTSB}_${date}.tar`;
    expect(dest.url).toBe(expected);
    expect(dest.name).toBe(expected.slice(expected.lastIndexOf('/') + 1));
  });

  it('gzip adds .tar.gz; add_date false drops the date; a trailing / of the location is not doubled', () => {
    const moveToken = tokenFrom('move.json');
    const move = configOf('move.json');
    const dest = uploadDestination(parseUpload(moveToken.upload), moveToken, now);
    expect(move.Job.variables.RESULTS_DIR.endsWith('/')).toBe(true);
    expect(dest.url).toBe(`${move.Job.variables.RESULTS_DIR}lofar_simg_2019-06-14.tar.gz`);

    const noDate = parseUpload({ ...(token.upload as object), add_date: false });
    expect(uploadDestination(noDate, token, now).name).toBe('CI_pref3_cal_000_.tar');
  });

  it('resolves $NAME through _token_keys to the mapped field, and plain token fields too', () => {
    const t = { ...token, config: 'x', 'config.json': { variables: { _token_keys: { $SB: 'STARTSB' } } } };
    expect(tokenKeysOf(t)).toEqual({ SB: 'STARTSB' });
    expect(expandTemplate('a_$SB_$OBSID', { token: t, date: '', field: 'upload.template' })).toBe(
      'a_000_L229585',
    );
    // config.json as a JSON string, as some tools store it
    const s = { ...token, 'config.json': JSON.stringify(token['config.json']) };
    expect(tokenKeysOf(s).STARTSB).toBe('STARTSB');
    // the longest known name wins; a lone $ stays
    const u = { _id: 'x', AB: 'short', ABC: 'long' };
    expect(expandTemplate('$ABC-$AB-$', { token: u, date: '', field: 'f' })).toBe('long-short-$');
  });

  it('a $NAME with no field is an E_CONFIG naming the field and the variable', () => {
    const err = thrownBy(() =>
      expandTemplate('out_$NOPE_$DATE', { token, date: 'd', field: 'upload.template' }),
    );
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toContain('upload.template');
    expect(err.message).toContain('$NOPE');
    const mapped = { ...token, 'config.json': { variables: { _token_keys: { $SB: 'SUBBAND' } } } };
    const err2 = thrownBy(() =>
      expandTemplate('x_$SB', { token: mapped, date: '', field: 'upload.location' }),
    );
    expect(err2.message).toMatch(/\$SB needs token field "SUBBAND".*t_cal_pref3\.json lacks/);
    const objectField = thrownBy(() => expandTemplate('$times', { token, date: '', field: 'f' }));
    expect(objectField.message).toContain('not a string or number');
  });

  it('refuses a destination that is no URL or climbs with ..', () => {
    const rel = thrownBy(() => uploadDestination(parseUpload({ template: 'x_$DATE' }), token, now));
    expect(rel.message).toMatch(/not a URL/);
    const up = thrownBy(() =>
      uploadDestination(parseUpload({ location: 'file:///data', template: '../x' }), token, now),
    );
    expect(up.message).toMatch(/"\.\."/);
  });

  it('validates upload with the field named', () => {
    expect(thrownBy(() => parseUpload({ template: 't', date_granularity: 'daily' })).message).toContain(
      'upload.date_granularity',
    );
    expect(thrownBy(() => parseUpload({ template: 't', gzip: 'yes' })).message).toContain('upload.gzip');
    expect(thrownBy(() => parseUpload({ location: 'x' })).message).toContain('upload.template');
  });
});

describe('stage_in', () => {
  it('absent or false: nothing; true: the srm.txt with defaults', () => {
    expect(parseStageIn({})).toBeUndefined();
    expect(parseStageIn({ stage_in: false })).toBeUndefined();
    expect(parseStageIn({ stage_in: true })).toEqual({
      from: 'srm.txt',
      extract: false,
      concurrency: 4,
      retries: 3,
      checksums: {},
    });
  });

  it('an object with URLs, extraction and checksums (normalised as catalogues write them)', () => {
    const spec = parseStageIn({
      stage_in: {
        from: ['file:///a/x.tar'],
        extract: true,
        concurrency: 2,
        retries: 0,
        checksums: { 'x.tar': '0x84B021F' },
      },
    });
    expect(spec).toEqual({
      from: ['file:///a/x.tar'],
      extract: true,
      concurrency: 2,
      retries: 0,
      checksums: { 'x.tar': '084b021f' },
    });
  });

  it.each([
    [{ stage_in: 'yes' }, 'stage_in'],
    [{ stage_in: { from: [] } }, 'stage_in.from'],
    [{ stage_in: { from: '../srm.txt' } }, 'stage_in.from'],
    [{ stage_in: { concurrency: 0 } }, 'stage_in.concurrency'],
    [{ stage_in: { retries: 1.5 } }, 'stage_in.retries'],
    [{ stage_in: { checksums: { a: 'zz' } } }, 'stage_in.checksums["a"]'],
    [{ stage_in: { extrakt: true } }, 'extrakt'],
  ])('rejects %j naming %s', (token, field) => {
    const err = thrownBy(() => parseStageIn(token));
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toContain(field);
  });
});

describe('stage_out plan', () => {
  const upload = { location: 'file:///r', template: 't' };
  it('follows upload only when stage_out is true: absent means the payload uploads itself', () => {
    expect(planStageOut({})).toBeUndefined();
    expect(planStageOut({ upload })).toBeUndefined();
    expect(planStageOut({ upload, stage_out: true })).toEqual({
      kind: 'upload',
      upload: parseUpload(upload),
    });
    expect(planStageOut({ upload, stage_out: false })).toBeUndefined();
    expect(thrownBy(() => planStageOut({ stage_out: true })).message).toContain('no upload');
  });

  it('files and dir forms; paths must stay in the job dir', () => {
    expect(planStageOut({ stage_out: { files: [{ from: 'Output/a.h5', to: 'file:///r/' }] } })).toEqual({
      kind: 'files',
      files: [{ from: 'Output/a.h5', to: 'file:///r/' }],
      overwrite: false,
    });
    expect(planStageOut({ stage_out: { dir: 'Output', to: 'gsiftp://h/p', overwrite: true } })).toEqual({
      kind: 'dir',
      dir: 'Output',
      to: 'gsiftp://h/p',
      overwrite: true,
    });
    expect(
      thrownBy(() => planStageOut({ stage_out: { files: [{ from: '../x', to: 'file:///r' }] } })).message,
    ).toContain('stage_out.files[0].from');
    expect(thrownBy(() => planStageOut({ stage_out: { dir: '/etc', to: 'file:///r' } })).message).toContain(
      'stage_out.dir',
    );
    expect(thrownBy(() => planStageOut({ stage_out: {} })).message).toContain('files');
  });
});

describe('input lists and file names', () => {
  it('reads the fixture lists: one URL a line', () => {
    const sara = readFileSync(join(FIXTURES, 'srm_1_sara.txt'), 'utf8');
    const expected = sara.split('\n').filter((l) => l.trim() !== '');
    expect(parseInputList(sara, 'srm.txt')).toEqual(expected);
    const cal1 = readFileSync(join(FIXTURES, 'cal1_srm_test.txt'), 'utf8');
    const urls = parseInputList(cal1, 'srm.txt');
    expect(urls.length).toBe(cal1.split('\n').filter((l) => l.trim() !== '').length);
    expect(urls.map(inputFileName)).toEqual(urls.map((u) => u.slice(u.lastIndexOf('/') + 1)));
  });

  it('keeps the grid link of a two-column line, skips comments, names every bad line', () => {
    const text =
      '# list\nfile:///local/copy srm://srm.grid.sara.nl:8443/pnfs/x/a.tar\r\n\nnot a url\nalso bad\n';
    const err = thrownBy(() => parseInputList(text, 'srm.txt'));
    expect(err.code).toBe('E_SURL_LIST');
    expect(err.message).toMatch(/srm\.txt: line 4: .*line 5/);
    expect(parseInputList(text.split('\n').slice(0, 3).join('\n'), 'srm.txt')).toEqual([
      'srm://srm.grid.sara.nl:8443/pnfs/x/a.tar',
    ]);
  });

  it('names files from the last path segment (SFN / surl forms too) and refuses unsafe ones', () => {
    expect(inputFileName('srm://srm.grid.sara.nl:8443/srm/managerv2?SFN=/pnfs/x/L1_SB001.MS.tar')).toBe(
      'L1_SB001.MS.tar',
    );
    expect(inputFileName('https://door.example/webserver?surl=srm://h:8443/pnfs/y/b.tar')).toBe('b.tar');
    expect(inputFileName('http://h/dir/a%20b.dat?authz=secret')).toBe('a b.dat');
    expect(inputFileName('/data/in/c.fits')).toBe('c.fits');
    for (const bad of ['http://h/', 'http://h/a/..', 'http://h/a/%2e%2e', 'http://h/x%2Fy']) {
      expect(thrownBy(() => inputFileName(bad)).code).toBe('E_CONFIG');
    }
  });

  it('stageInUrls reads the list named by stage_in from the job dir; a missing one is exit 20', async () => {
    const jobDir = await mkdtemp(join(tmpdir(), 'lrt-spec-'));
    try {
      await copyFile(join(FIXTURES, 'srm_1_sara.txt'), join(jobDir, 'srm.txt'));
      const spec = parseStageIn({ stage_in: true })!;
      expect(await stageInUrls(spec, jobDir)).toEqual(
        parseInputList(readFileSync(join(FIXTURES, 'srm_1_sara.txt'), 'utf8'), 'x'),
      );
      const direct = parseStageIn({ stage_in: { from: ['file:///a/b.dat'] } })!;
      expect(await stageInUrls(direct, jobDir)).toEqual(['file:///a/b.dat']);
      const other = parseStageIn({ stage_in: { from: 'inputs.txt' } })!;
      const err = await stageInUrls(other, jobDir).then(
        () => undefined,
        (e: LrtError) => e,
      );
      expect(err?.code).toBe('E_NOT_FOUND');
      expect(err?.exitCode).toBe(20);
      expect(err?.message).toContain('inputs.txt');
    } finally {
      await rm(jobDir, { recursive: true, force: true });
    }
  });
});
