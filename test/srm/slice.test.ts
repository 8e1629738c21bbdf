import { describe, expect, it } from 'vitest';
import {
  type Chunk,
  chunksToRecord,
  formatRanges,
  parseSurlListText,
  SurlList,
  sliceBySubband,
  subbandKey,
  subbandOf,
  summarizeSubbands,
} from '../../src/srm';
import { thrownBy } from '../helpers/errors';
import { expected, fixtureLines, fixtureText } from './fixtures';

const ABN_DOT = { prefix: 'ABN_', suffix: '.' };
const SB_DOT = { prefix: 'SB', suffix: '.' };

function listOf(name: string): SurlList {
  return parseSurlListText(fixtureText(name), name);
}

/** Chunks as {key: [links as given]}: comparable with the Python output, which kept the input form. */
function givenRecord(chunks: Chunk[]): Record<string, string[]> {
  return Object.fromEntries(chunks.map((c) => [c.key, c.entries.map((e) => e.given)]));
}

describe('subband numbers', () => {
  it('reads the digits between SB and the next _ in the file name', () => {
    const sb100 = fixtureLines('srm_50_sara.txt')[0]!;
    expect(subbandOf(sb100)).toBe(100);
    expect(subbandOf('/x/L580057_SB000_uv.MS_96ed9e2d.tar')).toBe(0);
    expect(subbandOf('/x/instruments_L261539_SB216.tar')).toBeUndefined();
    expect(subbandOf('/x/instruments_L261539_SB216.tar', SB_DOT)).toBe(216);
    expect(subbandOf('/x/L640667//GSM_CAL_L640667_ABN_104.tar.gz', ABN_DOT)).toBe(104);
    // Only the file name counts, not a directory that happens to match.
    expect(subbandOf('/SB1_dir/L1_uv.MS.tar')).toBeUndefined();
  });

  it('keys are zero-padded to three digits', () => {
    expect([subbandKey(0), subbandKey(7), subbandKey(42), subbandKey(150), subbandKey(1200)]).toEqual([
      '000',
      '007',
      '042',
      '150',
      '1200',
    ]);
  });
});

describe('sliceBySubband against the Python slice_dicts output', () => {
  const fx = expected['srm_50_sara.txt'];
  it.each(Object.keys(fx.slices))('srm_50_sara.txt, %s per token', (n) => {
    const chunks = sliceBySubband(listOf('srm_50_sara.txt'), Number(n));
    expect(chunksToRecord(chunks)).toEqual(fx.slices[n]);
    expect(chunks.map((c) => c.key)).toEqual(Object.keys(fx.slices[n]!).sort());
  });

  it('srm_50_sara.txt, 10 per token: keys 100..150, the last holding SB150 alone', () => {
    const chunks = sliceBySubband(listOf('srm_50_sara.txt'), 10);
    expect(chunks.map((c) => [c.key, c.entries.length])).toEqual([
      ['100', 10],
      ['110', 10],
      ['120', 10],
      ['130', 10],
      ['140', 10],
      ['150', 1],
    ]);
  });

  it('dysco_test.txt, 25 per token with ABN_<n>. numbers: gaps and input in random order', () => {
    const want = expected['dysco_test.txt'].slices['25']!;
    const chunks = sliceBySubband(listOf('dysco_test.txt'), 25, ABN_DOT);
    // The Python list kept the gsiftp links as given; we keep them as `given` and store SURLs.
    expect(givenRecord(chunks)).toEqual(want);
    const asSurls = Object.fromEntries(
      Object.entries(want).map(([k, links]) => [
        k,
        links.map((l) => l.replace('gsiftp://gridftp.grid.sara.nl:2811', 'srm://srm.grid.sara.nl:8443')),
      ]),
    );
    expect(chunksToRecord(chunks)).toEqual(asSurls);
    expect(chunks.map((c) => c.start)).toEqual(Object.keys(want).map(Number));
  });

  it('cal1_srm_test.txt, 10 per token with SB<n>. numbers', () => {
    const chunks = sliceBySubband(listOf('cal1_srm_test.txt'), 10, SB_DOT);
    expect(chunks.map((c) => c.key)).toEqual(expected['cal1_srm_test.txt'].slice_keys_10_with_suff_dot);
    expect(chunks.reduce((n, c) => n + c.entries.length, 0)).toBe(expected['cal1_srm_test.txt'].count);
  });

  it('test_srmfile1 (Juelich, CRLF, two columns), 10 per token', () => {
    const chunks = sliceBySubband(listOf('test_srmfile1'), 10);
    expect(chunks.map((c) => c.key)).toEqual(expected.test_srmfile1.slice_keys_10);
    expect(chunks[0]!.entries[0]!.surl).toBe(expected.test_srmfile1.first);
  });
});

describe('slicing rules', () => {
  const all = fixtureLines('srm_50_sara.txt');
  const pick = (...subbands: number[]) =>
    SurlList.of(subbands.map((sb) => all.find((l) => l.includes(`_SB${sb}_`))!));

  it('missing subbands leave gaps; chunks emptied by gaps are dropped', () => {
    // Lowest 103, N=10: 103-112 holds 103,104,106; 113-122 is empty; 123-132 holds 125; 133-142 holds 139,141.
    const chunks = sliceBySubband(pick(103, 104, 106, 125, 141, 139), 10);
    expect(chunks.map((c) => [c.key, c.entries.map((e) => subbandOf(e.path))])).toEqual([
      ['103', [103, 104, 106]],
      ['123', [125]],
      ['133', [139, 141]],
    ]);
  });

  it('orders each chunk by subband whatever the input order', () => {
    const chunks = sliceBySubband(pick(109, 101, 105, 100), 5);
    expect(chunks.map((c) => [c.key, c.entries.map((e) => subbandOf(e.path))])).toEqual([
      ['100', [100, 101]],
      ['105', [105, 109]],
    ]);
  });

  it('a SURL without a subband is an error naming its line', () => {
    const list = parseSurlListText(fixtureText('cal1_srm_test.txt'), 'cal1.txt');
    const err = thrownBy(() => sliceBySubband(list, 10));
    expect(err.code).toBe('E_SURL_LIST');
    expect(err.message).toMatch(/^cal1\.txt line 1: no subband SB<digits>_ in the file name of "gsiftp:/);
    expect(err.message).toContain('(and 319 more SURLs)');
  });

  it('two SURLs naming one subband are an error naming both', () => {
    const a = all[0]!;
    const b = a.replace('3d78b8f1', 'ffffffff');
    const list = parseSurlListText(`${a}\n${b}\n`, 'dup.txt');
    const err = thrownBy(() => sliceBySubband(list, 10));
    expect(err.code).toBe('E_SURL_LIST');
    expect(err.message).toContain(
      'subband 100 is named by 2 different SURLs (dup.txt line 1, dup.txt line 2)',
    );
  });

  it('refuses a chunk size below 1 or fractional', () => {
    expect(thrownBy(() => sliceBySubband(pick(100), 0)).code).toBe('E_USAGE');
    expect(thrownBy(() => sliceBySubband(pick(100), 2.5)).code).toBe('E_USAGE');
  });

  it('an empty list gives no chunks', () => {
    expect(sliceBySubband(new SurlList(), 10)).toEqual([]);
  });
});

describe('summarizeSubbands', () => {
  it('finds the range and the gaps', () => {
    const all = fixtureLines('srm_50_sara.txt');
    const keep = all.filter((l) => !/_SB(10[5-7]|110|149)_/.test(l));
    const s = summarizeSubbands(SurlList.of(keep));
    expect(s).toMatchObject({
      first: 100,
      last: 150,
      count: 46,
      missingCount: 5,
      duplicated: [],
      withoutSubband: 0,
    });
    expect(formatRanges(s.missing)).toBe('105-107, 110, 149');
  });

  it('counts SURLs without a subband under the pattern', () => {
    const list = listOf('cal1_srm_test.txt');
    expect(summarizeSubbands(list)).toMatchObject({ first: undefined, count: 0, withoutSubband: 320 });
    expect(summarizeSubbands(list, SB_DOT)).toMatchObject({ count: 320, withoutSubband: 0 });
  });
});
