import { describe, expect, it } from 'vitest';
import {
  gfalLink,
  gsiftpLink,
  httpsLink,
  isLinkKind,
  LINK_KINDS,
  linkFor,
  parseSurl,
  toSurl,
} from '../../src/srm';
import { expected } from './fixtures';

const SITES = Object.entries(expected.per_site_single_link);

describe('link forms per site (values of the Python srmlist)', () => {
  it.each(SITES)('%s: gsiftp, https and gfal links match', (_site, fx) => {
    const surl = parseSurl(fx.surl);
    expect(gsiftpLink(surl)).toBe(fx.gsiftp);
    expect(httpsLink(surl)).toBe(fx.https);
    expect(gfalLink(surl)).toBe(fx.gfal);
    expect(linkFor(surl, 'srm')).toBe(fx.surl);
    expect(linkFor(surl, 'gsiftp')).toBe(fx.gsiftp);
    expect(linkFor(surl, 'https')).toBe(fx.https);
    expect(linkFor(surl, 'gfal')).toBe(fx.gfal);
  });

  it.each(SITES)('%s: every form converts back to the same SURL', (_site, fx) => {
    for (const form of [fx.surl, fx.gsiftp, fx.https, fx.gfal]) expect(toSurl(form)).toBe(fx.surl);
    expect(toSurl(fx.gsiftp)).toBe(fx.srm_from_gsiftp);
  });

  it('links made from a gsiftp input use the site door table', () => {
    const fx = expected.per_site_single_link.juelich;
    const fromGsiftp = parseSurl(fx.gsiftp);
    expect(gfalLink(fromGsiftp)).toBe(fx.gfal);
    expect(httpsLink(fromGsiftp)).toBe(fx.https);
  });

  it('knows exactly the four link kinds', () => {
    expect([...LINK_KINDS].sort()).toEqual(['gfal', 'gsiftp', 'https', 'srm']);
    expect(isLinkKind('gsiftp')).toBe(true);
    expect(isLinkKind('davs')).toBe(false);
  });
});
