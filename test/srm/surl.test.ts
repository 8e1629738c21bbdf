import { describe, expect, it } from 'vitest';
import { isLrtError, type LrtError } from '../../src/core';
import { isSurl, LTA_SITES, obsidOf, parseSurl, siteForHost } from '../../src/srm';
import { expected } from './fixtures';

const SARA = expected.per_site_single_link.sara;
const JUELICH = expected.per_site_single_link.juelich;
const POZNAN = expected.per_site_single_link.poznan;

function surlError(text: string): LrtError {
  try {
    parseSurl(text);
  } catch (err) {
    if (isLrtError(err)) return err;
    throw err;
  }
  throw new Error(`parseSurl accepted ${text}`);
}

describe('the LTA site table (docs/lta-sites.md)', () => {
  it('has the three sites with their SRM, GridFTP and https doors', () => {
    const byName = Object.fromEntries(LTA_SITES.map((s) => [s.name, s]));
    expect(Object.keys(byName).sort()).toEqual(['juelich', 'poznan', 'sara']);
    expect(byName.sara).toMatchObject({
      srmPrefix: 'srm://srm.grid.sara.nl:8443',
      gsiftpPrefix: 'gsiftp://gridftp.grid.sara.nl:2811',
      httpsPrefix: 'https://lofar-download.grid.sara.nl/lofigrid/SRMFifoGet.py?surl=',
    });
    expect(byName.juelich).toMatchObject({
      srmPrefix: 'srm://lofar-srm.fz-juelich.de:8443',
      gsiftpPrefix: 'gsiftp://lofar-gridftp.fz-juelich.de:2811',
      httpsPrefix: 'https://lofar-download.fz-juelich.de/webserver-lofar/SRMFifoGet.py?surl=',
    });
    expect(byName.poznan).toMatchObject({
      srmPrefix: 'srm://lta-head.lofar.psnc.pl:8443',
      gsiftpPrefix: 'gsiftp://gridftp.lofar.psnc.pl:2811',
      httpsPrefix: 'https://lta-download.lofar.psnc.pl/lofigrid/SRMFifoGet.py?surl=',
    });
  });

  it('finds the site from the host domain, not from look-alike hosts', () => {
    expect(siteForHost('srm.grid.sara.nl')?.name).toBe('sara');
    expect(siteForHost('GRIDFTP.GRID.SARA.NL')?.name).toBe('sara');
    expect(siteForHost('dcachepool12.fz-juelich.de')?.name).toBe('juelich');
    expect(siteForHost('lta-head.lofar.psnc.pl')?.name).toBe('poznan');
    expect(siteForHost('evilgrid.sara.nl.example.org')).toBeUndefined();
    expect(siteForHost('notgrid.sara.nl')).toBeUndefined();
  });
});

describe('parseSurl', () => {
  it.each([
    ['sara', SARA],
    ['juelich', JUELICH],
    ['poznan', POZNAN],
  ])('reads a %s SURL: site, OBSID, path', (site, fx) => {
    const s = parseSurl(fx.surl);
    expect(s.site).toBe(site);
    expect(s.obsid).toBe(fx.obsid);
    expect(s.surl).toBe(fx.surl);
    expect(s.givenForm).toBe('srm');
    expect(fx.surl.endsWith(s.path)).toBe(true);
    expect(s.path.startsWith('/')).toBe(true);
  });

  it('converts gsiftp links back to SURLs by the reverse rule (Python srm_from_gsiftp)', () => {
    for (const fx of [SARA, JUELICH, POZNAN]) {
      const s = parseSurl(fx.gsiftp);
      expect(s.surl).toBe(fx.srm_from_gsiftp);
      expect(s.givenForm).toBe('gsiftp');
      expect(s.given).toBe(fx.gsiftp);
    }
  });

  it('accepts the gfal form and the https download door and returns the plain SURL', () => {
    for (const fx of [SARA, JUELICH, POZNAN]) {
      expect(parseSurl(fx.gfal)).toMatchObject({ surl: fx.surl, givenForm: 'gfal' });
      expect(parseSurl(fx.https)).toMatchObject({ surl: fx.surl, givenForm: 'https' });
    }
    const encoded = `https://lofar-download.grid.sara.nl/lofigrid/SRMFifoGet.py?surl=${encodeURIComponent(SARA.surl)}`;
    expect(parseSurl(encoded).surl).toBe(SARA.surl);
  });

  it('accepts an old Juelich GridFTP door (GRID_LRT test data) as the same name space', () => {
    const old =
      'gsiftp://dcachepool12.fz-juelich.de:2811/pnfs/fz-juelich.de/data/lofar/ops/projects/lc7_012/583139/L583139_SB000_uv.MS_900c9fcf.tar';
    expect(parseSurl(old).surl).toBe(
      'srm://lofar-srm.fz-juelich.de:8443/pnfs/fz-juelich.de/data/lofar/ops/projects/lc7_012/583139/L583139_SB000_uv.MS_900c9fcf.tar',
    );
  });

  it('adds the default SRM port and trims surrounding whitespace and CR', () => {
    const noPort = SARA.surl.replace(':8443', '');
    expect(parseSurl(noPort).surl).toBe(SARA.surl);
    expect(parseSurl(`  ${SARA.surl} \r`).surl).toBe(SARA.surl);
  });

  it('collapses //pnfs at every site and //lofar only at PSNC', () => {
    const saraDouble = SARA.surl.replace(':8443/pnfs', ':8443//pnfs');
    expect(parseSurl(saraDouble).surl).toBe(SARA.surl);
    const juelichDouble = JUELICH.surl.replace(':8443/pnfs', ':8443//pnfs');
    expect(parseSurl(juelichDouble).surl).toBe(JUELICH.surl);
    const poznanDouble = POZNAN.surl.replace(':8443/lofar', ':8443//lofar');
    expect(parseSurl(poznanDouble).surl).toBe(POZNAN.surl);
    expect(parseSurl(POZNAN.gsiftp.replace(':2811/lofar', ':2811//lofar')).surl).toBe(POZNAN.surl);
    // At SARA a //lofar root is not one the Python tool cleaned: kept as given.
    const saraLofar = 'srm://srm.grid.sara.nl:8443//lofar/L123456_SB001_x.tar';
    expect(parseSurl(saraLofar).path).toBe('//lofar/L123456_SB001_x.tar');
  });

  it('keeps a // inside the path (dysco list)', () => {
    const link =
      'gsiftp://gridftp.grid.sara.nl:2811/pnfs/grid.sara.nl/data/lofar/user/sksp/distrib/SKSP/L640667//GSM_CAL_L640667_ABN_104.tar.gz';
    expect(parseSurl(link).path).toBe(
      '/pnfs/grid.sara.nl/data/lofar/user/sksp/distrib/SKSP/L640667//GSM_CAL_L640667_ABN_104.tar.gz',
    );
  });

  it('reads the OBSID as the first L<digits>', () => {
    expect(obsidOf('/a/L12/b/L229507_SB100_x')).toBe('L12');
    expect(obsidOf('/pnfs/lofar/LBA/x')).toBeUndefined();
    expect(parseSurl('srm://srm.grid.sara.nl:8443/pnfs/grid.sara.nl/data/sandbox.tar').obsid).toBeUndefined();
  });

  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ['srm://example.org:8443/pnfs/x/L1_SB1_x', /example\.org is not an LTA site/],
    [
      'srm://gridftp.grid.sara.nl:8443/pnfs/x/L1_SB1_x',
      /SRM endpoint of sara is srm:\/\/srm\.grid\.sara\.nl:8443/,
    ],
    ['srm://srm.grid.sara.nl:2811/pnfs/x/L1_SB1_x', /SRM endpoint of sara/],
    ['srm://user:secret@srm.grid.sara.nl:8443/pnfs/x', /credentials/],
    ['/pnfs/grid.sara.nl/data/L1_SB1_x.tar', /bare path/],
    ['file:///L580057_SB000_uv.MS_96ed9e2d.tar', /scheme file:\/\//],
    ['http://lofar-download.grid.sara.nl/x', /scheme http:\/\//],
    ['srm://srm.grid.sara.nl:8443', /no file path/],
    ['srm://srm.grid.sara.nl:8443/', /no file path/],
    ['srm://srm.grid.sara.nl:8443/pnfs/a b', /whitespace/],
    ['srm://srm.grid.sara.nl:8443/pnfs/a?x=1', /"\?"/],
    ['https://lofar-download.grid.sara.nl/lofigrid/SRMFifoGet.py?file=x', /download door/],
    [
      `https://lta-download.lofar.psnc.pl/lofigrid/SRMFifoGet.py?surl=${SARA.surl}`,
      /cannot serve a SURL of sara/,
    ],
    ['L229507_SB100', /no scheme/],
  ])('rejects %j with E_SURL', (text, why) => {
    const err = surlError(text);
    expect(err.code).toBe('E_SURL');
    expect(err.message).toMatch(why);
    expect(isSurl(text)).toBe(false);
  });

  it('never repeats a password in its message', () => {
    const err = surlError('srm://user:hunter22@srm.grid.sara.nl:8443/pnfs/x');
    expect(err.message).not.toContain('hunter22');
    expect(JSON.stringify(err.toJSON())).not.toContain('hunter22');
  });

  it('quotes the offending link in the message', () => {
    const text = 'srm://example.org:8443/pnfs/x/L1_SB1_x';
    expect(surlError(text).message).toContain(`"${text}"`);
  });
});
