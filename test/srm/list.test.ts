import { describe, expect, it } from 'vitest';
import { isLrtError } from '../../src/core';
import { SurlList } from '../../src/srm';
import { thrownBy } from '../helpers/errors';
import { expected, fixtureLines } from './fixtures';

const JUELICH_SB000 =
  'srm://lofar-srm.fz-juelich.de:8443/pnfs/fz-juelich.de/data/lofar/ops/projects/lc7_012/583127/L583127_SB000_uv.MS_c0a9adfa.tar';
const JUELICH_SB010 = JUELICH_SB000.replace('SB000', 'SB010');
const OTHER_OBSID = JUELICH_SB000.replace('L583127', 'L581127');
const POZNAN_OTHER =
  'srm://lta-head.lofar.psnc.pl:8443/lofar/ops/projects/lc6_004/555009/L583127_SB206_uv.MS_0a5d4f0d.tar';

describe('SurlList', () => {
  it('starts empty and takes OBSID and site from the first entry', () => {
    const list = new SurlList();
    expect(list.size).toBe(0);
    expect(list.obsid).toBeUndefined();
    expect(list.site).toBeUndefined();
    list.add(JUELICH_SB000);
    expect(list.obsid).toBe('L583127');
    expect(list.site).toBe('juelich');
    expect(list.surls()).toEqual([JUELICH_SB000]);
  });

  it('drops duplicates, also when given in another form, and records them', () => {
    const list = new SurlList();
    expect(list.add(JUELICH_SB000)).toBeDefined();
    expect(list.add(JUELICH_SB010)).toBeDefined();
    expect(list.add(JUELICH_SB000)).toBeUndefined();
    const asGsiftp = JUELICH_SB010.replace(
      'srm://lofar-srm.fz-juelich.de:8443',
      'gsiftp://lofar-gridftp.fz-juelich.de:2811',
    );
    expect(list.add(asGsiftp, { source: 'x.txt', line: 9 })).toBeUndefined();
    expect(list.size).toBe(2);
    expect(list.duplicates.map((d) => [d.surl, d.origin.entry, d.kept.entry])).toEqual([
      [JUELICH_SB000, 3, 1],
      [JUELICH_SB010, 4, 2],
    ]);
    expect(list.duplicates[1]!.origin).toMatchObject({ source: 'x.txt', line: 9 });
  });

  it('refuses another OBSID, naming both OBSIDs and both entries', () => {
    const list = new SurlList();
    list.add(JUELICH_SB000, { source: 'srm.txt', line: 1 });
    list.add(JUELICH_SB010, { source: 'srm.txt', line: 2 });
    const err = thrownBy(() => list.add(OTHER_OBSID, { source: 'srm.txt', line: 3 }));
    expect(err.code).toBe('E_SURL_LIST');
    expect(err.message).toContain('Different OBSID than previous items');
    expect(err.message).toContain('srm.txt line 3 has L581127');
    expect(err.message).toContain('L583127 (from srm.txt line 1)');
    expect(err.details).toMatchObject({ line: 3, obsid: 'L581127', expected: 'L583127' });
    expect(list.size).toBe(2);
  });

  it('refuses another site with the same OBSID', () => {
    const list = new SurlList();
    list.add(JUELICH_SB000);
    const err = thrownBy(() => list.add(POZNAN_OTHER));
    expect(err.code).toBe('E_SURL_LIST');
    expect(err.message).toContain('Different LTA site than previous items');
    expect(err.message).toContain('entry 2 is at poznan, the list is at juelich (from entry 1)');
  });

  it('refuses a SURL without OBSID and wraps a bad link as E_SURL_LIST with its cause', () => {
    const list = new SurlList();
    const noObsid = thrownBy(() =>
      list.add('srm://srm.grid.sara.nl:8443/pnfs/grid.sara.nl/data/sandbox.tar'),
    );
    expect(noObsid.code).toBe('E_SURL_LIST');
    expect(noObsid.message).toMatch(/entry 1: no OBSID/);
    const badLink = thrownBy(() => list.add('srm://example.org/x/L1_SB1_x', { source: 'f', line: 4 }));
    expect(badLink.code).toBe('E_SURL_LIST');
    expect(badLink.message).toMatch(/^f line 4: .*not an LTA site/);
    expect(isLrtError((badLink as Error).cause, 'E_SURL')).toBe(true);
  });

  it('gives links in input order: the reverse of the Python generators (srm_50_sara.txt)', () => {
    const fx = expected['srm_50_sara.txt'];
    const list = SurlList.of(fixtureLines('srm_50_sara.txt'));
    expect(list.size).toBe(fx.count);
    expect(list.obsid).toBe(fx.obsid);
    expect(list.site).toBe(fx.lta_location);
    const pairs: [string[], string[]][] = [
      [list.links('gsiftp'), fx.gsi_links_python_order],
      [list.links('https'), fx.http_links_python_order],
      [list.links('gfal'), fx.gfal_links_python_order],
    ];
    for (const [ours, python] of pairs) {
      expect(ours).toHaveLength(fx.count);
      // Python yielded from the end of the list; its first items are our last, reversed.
      expect(ours.slice(-python.length).reverse()).toEqual(python);
      expect(ours[0]).toContain('L229507_SB100_');
    }
    expect(list.links('srm')).toEqual(fixtureLines('srm_50_sara.txt'));
  });

  it('is iterable over its entries with their origins', () => {
    const list = SurlList.of([JUELICH_SB000, JUELICH_SB010], 'mine.txt');
    const entries = [...list];
    expect(entries.map((e) => e.origin)).toEqual([
      { entry: 1, source: 'mine.txt' },
      { entry: 2, source: 'mine.txt' },
    ]);
  });
});
