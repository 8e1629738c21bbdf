import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSurlListText, readSurlListFile } from '../../src/srm';
import { failure, thrownBy } from '../helpers/errors';
import { expected, fixtureLines, fixturePath, fixtureText } from './fixtures';

const SB100 = fixtureLines('srm_50_sara.txt')[0]!;
const SB101 = fixtureLines('srm_50_sara.txt')[1]!;

describe('reading the GRID_LRT list fixtures', () => {
  it('srm_50_sara.txt: 51 SURLs of L229507 at sara, in file order', async () => {
    const fx = expected['srm_50_sara.txt'];
    const list = await readSurlListFile(fixturePath('srm_50_sara.txt'));
    expect([list.size, list.obsid, list.site]).toEqual([fx.count, fx.obsid, fx.lta_location]);
    expect(list.surls()).toEqual(fixtureLines('srm_50_sara.txt'));
    expect(list.entries.map((e) => e.origin.line)).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
  });

  it('srm_1_sara.txt: its one line', async () => {
    const list = await readSurlListFile(fixturePath('srm_1_sara.txt'));
    expect(list.surls()).toEqual([SB100]);
  });

  it('test_srmfile1: CRLF and a second file:/// column, Juelich', async () => {
    const fx = expected.test_srmfile1;
    const list = await readSurlListFile(fixturePath('test_srmfile1'));
    expect([list.size, list.obsid, list.site]).toEqual([fx.count, fx.obsid, fx.lta_location]);
    expect(list.surls()[0]).toBe(fx.first);
    const firstFields = fixtureText('test_srmfile1')
      .split('\r\n')
      .filter((l) => l !== '')
      .map((l) => l.split(' ')[0]);
    expect(list.surls()).toEqual(firstFields);
    expect(list.surls().some((s) => /[\r\s]|file:/.test(s))).toBe(false);
  });

  it('test_srmfile2: trailing spaces and CRLF-only lines (the Python append raised on those)', async () => {
    const fx = expected.test_srmfile2;
    const list = await readSurlListFile(fixturePath('test_srmfile2'));
    expect([list.size, list.obsid, list.site]).toEqual([
      fx.count_before_blank_line_error,
      fx.obsid,
      fx.lta_location,
    ]);
    expect(
      list.surls().every((s) => s === s.trim() && s.startsWith('srm://lofar-srm.fz-juelich.de:8443/')),
    ).toBe(true);
  });

  it('cal1_srm_test.txt: gsiftp links stored as SURLs, the empty last line ignored', async () => {
    const fx = expected['cal1_srm_test.txt'];
    const list = await readSurlListFile(fixturePath('cal1_srm_test.txt'));
    expect([list.size, list.obsid, list.site]).toEqual([fx.count, fx.obsid, fx.lta_location]);
    const lines = fixtureLines('cal1_srm_test.txt');
    expect(list.entries.map((e) => e.given)).toEqual(lines);
    expect(list.surls()).toEqual(
      lines.map((l) => l.replace('gsiftp://gridftp.grid.sara.nl:2811', 'srm://srm.grid.sara.nl:8443')),
    );
  });

  it('dysco_test.txt: 25 gsiftp links of L640667 with // inside the path', async () => {
    const fx = expected['dysco_test.txt'];
    const list = await readSurlListFile(fixturePath('dysco_test.txt'));
    expect([list.size, list.obsid, list.site]).toEqual([fx.count, fx.obsid, fx.lta_location]);
    expect(list.surls().every((s) => s.includes('/L640667//GSM_CAL_'))).toBe(true);
  });
});

describe('lines that are not SURLs', () => {
  it('gfal-ls -l listings give one clear error, not garbage', async () => {
    for (const name of ['gfal_ls_sandbox_dir.txt', 'gfal_ls_sksp_user_dir.txt', 'gfal_ls_one_file.txt']) {
      const err = await failure(readSurlListFile(fixturePath(`ls_outputs/${name}`), name));
      expect(err.code).toBe('E_SURL_LIST');
      expect(err.message).toContain(`${name} looks like 'gfal-ls -l' output`);
      const lineCount = fixtureLines(`ls_outputs/${name}`).length;
      expect(err.message).toContain(`(${lineCount} lines)`);
      expect((err.details.problems as unknown[]).length).toBe(lineCount);
    }
  });

  it('an ls line among SURLs is reported with its line number', () => {
    const ls = fixtureLines('ls_outputs/gfal_ls_one_file.txt')[0]!;
    const err = thrownBy(() => parseSurlListText(`${SB100}\n${ls}\n`, 'mixed.txt'));
    expect(err.message).toMatch(
      /^mixed\.txt line 2: looks like a line of 'gfal-ls -l' output \("airflowtest1\.tar"\)/,
    );
  });

  it('the Spider srm.txt (plain paths) is refused line by line', () => {
    const err = thrownBy(() => parseSurlListText(fixtureText('spider/srm.txt'), 'srm.txt'));
    expect(err.code).toBe('E_SURL_LIST');
    expect(err.message).toMatch(/^10 bad lines in srm\.txt:/);
    expect(err.message).toContain(
      'srm.txt line 1: "/project/sksp/Data/ELAIS_L686962/prefactor/targ1/pref3_targ1_L686962_ABN124.tar" is a bare path',
    );
    expect(err.message).toContain('... and 5 more');
    expect((err.details.problems as { line: number }[]).map((p) => p.line)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
  });

  it('a bare path under a site domain gets the SURL it probably meant', () => {
    const path = SB100.replace('srm://srm.grid.sara.nl:8443', '');
    const err = thrownBy(() => parseSurlListText(`${path}\n`, 'p.txt'));
    expect(err.message).toContain(`e.g. ${SB100}`);
  });

  it('names other schemes and plain words', () => {
    const text = ['file:///data/L1_SB001_x.tar', 'hello world', `${SB100}`].join('\n');
    const err = thrownBy(() => parseSurlListText(text, 'w.txt'));
    expect(err.message).toContain('w.txt line 1: "file:///data/L1_SB001_x.tar" uses file://');
    expect(err.message).toContain('w.txt line 2: "hello world" is not a SURL');
  });

  it('a second OBSID is an error with both values and the line number', () => {
    const other = SB101.replace(/L229507/g, 'L229508');
    const text = `# list\n${SB100}\n\n${other}\n`;
    const err = thrownBy(() => parseSurlListText(text, 'two.txt'));
    expect(err.code).toBe('E_SURL_LIST');
    expect(err.message).toBe(
      'Different OBSID than previous items: two.txt line 4 has L229508, the list holds L229507 (from two.txt line 2)',
    );
  });

  it('collects every bad line, with a bad SURL explained', () => {
    const text = [SB100, 'srm://srm.example.org:8443/pnfs/L229507_SB102_x.tar', SB101, 'nonsense'].join(
      '\r\n',
    );
    const err = thrownBy(() => parseSurlListText(text, 'b.txt'));
    expect(err.message.split('\n')).toEqual([
      '2 bad lines in b.txt:',
      expect.stringMatching(/^ {2}b\.txt line 2: .*srm\.example\.org is not an LTA site/),
      '  b.txt line 4: "nonsense" is not a SURL (expected srm://, gsiftp:// or an LTA https download link)',
    ]);
  });

  it('a line holding two different links is refused; the same file twice is fine', () => {
    const err = thrownBy(() => parseSurlListText(`${SB100} ${SB101}\n`, 'two.txt'));
    expect(err.message).toMatch(/two\.txt line 1: holds 2 different links/);
    const gsi = SB100.replace('srm://srm.grid.sara.nl:8443', 'gsiftp://gridftp.grid.sara.nl:2811');
    expect(parseSurlListText(`${gsi}\t${SB100}\n`).surls()).toEqual([SB100]);
  });

  it('a list without SURLs is an error', () => {
    const err = thrownBy(() => parseSurlListText('# nothing here\n\n  \r\n', 'empty.txt'));
    expect(err.message).toBe('empty.txt holds no SURLs');
  });
});

describe('the accepted text forms', () => {
  it('ignores comments, blank lines, a BOM, tabs and trailing spaces, and drops duplicates', () => {
    const text = `\uFEFF# header\n\t${SB100}  \n   # indented comment\n\n${SB101}\t# why\n${SB100}\n`;
    const list = parseSurlListText(text, 'c.txt');
    expect(list.surls()).toEqual([SB100, SB101]);
    expect(list.entries.map((e) => e.origin.line)).toEqual([2, 5]);
    expect(list.duplicates).toHaveLength(1);
    expect(list.duplicates[0]!.origin.line).toBe(6);
  });

  it('handles old Mac CR line ends too', () => {
    expect(parseSurlListText(`${SB100}\r${SB101}\r`).size).toBe(2);
  });

  it('picks the field holding the link whatever its column', () => {
    const list = parseSurlListText(`file:///x.tar ${SB100} 12345\n`);
    expect(list.surls()).toEqual([SB100]);
  });
});

describe('readSurlListFile errors', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lrt-srm-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a missing file is E_NOT_FOUND naming the path as typed', async () => {
    const err = await failure(readSurlListFile(join(dir, 'nope.txt'), 'nope.txt'));
    expect(err.code).toBe('E_NOT_FOUND');
    expect(err.message).toBe('SURL list nope.txt not found');
  });

  it('a directory is a usage error that says it is a folder', async () => {
    const err = await failure(readSurlListFile(dir, 'somedir'));
    expect(err.code).toBe('E_USAGE');
    expect(err.message).toBe('SURL list somedir is a folder: give the file in it');
  });

  it('reads a file written here, and names it in line errors', async () => {
    const file = join(dir, 'list.txt');
    await writeFile(file, `${SB100}\nbad line\n`);
    await chmod(file, 0o644);
    const err = await failure(readSurlListFile(file));
    expect(err.message).toContain(`${file} line 2: "bad line" is not a SURL`);
  });
});
