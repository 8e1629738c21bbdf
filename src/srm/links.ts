import { LrtError } from '../core';
import { type LtaSite, siteByName } from './sites';
import { parseSurl, type Surl } from './surl';

/** The link forms `lrt srm links` and the movers use. */
export type LinkKind = 'srm' | 'gsiftp' | 'https' | 'gfal';
export const LINK_KINDS: readonly LinkKind[] = ['srm', 'gsiftp', 'https', 'gfal'];

function siteOf(surl: Surl): LtaSite {
  const site = siteByName(surl.site);
  if (!site) throw new LrtError('E_SURL', `unknown LTA site "${surl.site}"`);
  return site;
}

/** `gsiftp://<door>:2811<path>`: the SRM prefix replaced by the site's GridFTP door. */
export function gsiftpLink(surl: Surl): string {
  return `${siteOf(surl).gsiftpPrefix}${surl.path}`;
}

/** The site's https download door with the SURL appended (not encoded, as the doors expect). */
export function httpsLink(surl: Surl): string {
  return `${siteOf(surl).httpsPrefix}${surl.surl}`;
}

/** `srm://<host>:8443/srm/managerv2?SFN=<path>`: the form gfal tools and locality checks take. */
export function gfalLink(surl: Surl): string {
  return `${siteOf(surl).srmPrefix}/srm/managerv2?SFN=${surl.path}`;
}

export function linkFor(surl: Surl, kind: LinkKind): string {
  switch (kind) {
    case 'srm':
      return surl.surl;
    case 'gsiftp':
      return gsiftpLink(surl);
    case 'https':
      return httpsLink(surl);
    case 'gfal':
      return gfalLink(surl);
  }
}

/** A gsiftp (or any other known) link back to its SURL: the reverse rule. */
export function toSurl(link: string): string {
  return parseSurl(link).surl;
}

export function isLinkKind(value: string): value is LinkKind {
  return (LINK_KINDS as readonly string[]).includes(value);
}
