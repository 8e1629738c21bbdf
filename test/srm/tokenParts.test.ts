import { describe, expect, it } from 'vitest';
import { isLrtError } from '../../src/core';
import { parseSurlListText, SRM_ATTACHMENT, sliceBySubband, srmTxt, tokenId } from '../../src/srm';
import { expected, fixtureLines, fixtureText } from './fixtures';

describe('srm.txt attachment text', () => {
  it('is one SURL per line with a trailing newline, in subband order', () => {
    const chunks = sliceBySubband(parseSurlListText(fixtureText('srm_50_sara.txt')), 10);
    const want = expected['srm_50_sara.txt'].slices['10']!;
    for (const chunk of chunks) {
      expect(srmTxt(chunk)).toBe(`${want[chunk.key]!.join('\n')}\n`);
    }
    expect(SRM_ATTACHMENT).toBe('srm.txt');
  });

  it('holds SURLs even when the list was given as gsiftp links', () => {
    const list = parseSurlListText(fixtureText('dysco_test.txt'));
    const text = srmTxt(list.entries);
    expect(text.endsWith('.tar.gz\n')).toBe(true);
    expect(text.split('\n').filter(Boolean)).toHaveLength(25);
    expect(text).not.toContain('gsiftp://');
    // Reading the attachment back gives the same list.
    expect(parseSurlListText(text).surls()).toEqual(list.surls());
  });

  it('takes plain arrays and refuses an empty one', () => {
    const [a, b] = fixtureLines('srm_50_sara.txt');
    expect(srmTxt([{ surl: a! }, { surl: b! }])).toBe(`${a}\n${b}\n`);
    try {
      srmTxt([]);
      expect.unreachable();
    } catch (err) {
      expect(isLrtError(err, 'E_SURL_LIST')).toBe(true);
    }
  });
});

describe('token ids', () => {
  it('follow GRID_LRT: t_<type>_<OBSID>_SB<key> (notebook: t_jupyter_demo_apmechev_L345916_SB100)', () => {
    expect(tokenId('jupyter_demo_apmechev', 'L345916', '100')).toBe('t_jupyter_demo_apmechev_L345916_SB100');
    expect(tokenId('pref_cal1', 'L580057', '000')).toBe('t_pref_cal1_L580057_SB000');
  });

  it.each([
    ['', 'L1', '000'],
    ['bad type', 'L1', '000'],
    ['a/b', 'L1', '000'],
    ['_design', 'L1', '000'],
    ['ok', '229507', '000'],
    ['ok', 'L1', '1a'],
  ])('refuses type %j, obsid %j, key %j', (type, obsid, key) => {
    try {
      tokenId(type, obsid, key);
      expect.unreachable();
    } catch (err) {
      expect(isLrtError(err, 'E_CONFIG')).toBe(true);
    }
  });
});
