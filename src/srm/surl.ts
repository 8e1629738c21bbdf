import { LrtError, scrubSecrets } from '../core';
import { describeSites, type LtaSite, type SiteName, siteForHost } from './sites';

/** The forms a link to LTA data can be given in. */
export type LinkForm = 'srm' | 'gfal' | 'gsiftp' | 'https';

/** One file in the LOFAR archive, from any of its link forms. */
export interface Surl {
  /** Canonical SURL: `srm://<site SRM host>:8443<path>`. */
  readonly surl: string;
  readonly site: SiteName;
  /** Path on the site's storage, starting with `/`, clean-ups applied. */
  readonly path: string;
  /** The first `L<digits>` of the path (`L229507`), if any. */
  readonly obsid: string | undefined;
  /** The link exactly as given (trimmed). */
  readonly given: string;
  readonly givenForm: LinkForm;
}

const LINK_RE = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(.*)$/i;
const GFAL_PATH_RE = /^\/srm\/managerv2\?SFN=(.*)$/;
const OBSID_RE = /L\d+/;
const MAX_SHOWN = 200;

/** A link made safe and short enough to quote in an error message. */
export function quoteLink(text: string): string {
  const safe = scrubSecrets(text, []).replace(/[\x00-\x1f\x7f]/g, '\uFFFD');
  return `"${safe.length > MAX_SHOWN ? `${safe.slice(0, MAX_SHOWN)}...` : safe}"`;
}

function bad(text: string, why: string): LrtError {
  return new LrtError('E_SURL', `${quoteLink(text)} is not a usable SURL: ${why}`, {
    details: { surl: scrubSecrets(text, []) },
  });
}

/** The first `L<digits>` in a link or path: the LOFAR observation id. */
export function obsidOf(text: string): string | undefined {
  return OBSID_RE.exec(text)?.[0];
}

/** `//pnfs/...` -> `/pnfs/...` (and `//lofar` at PSNC), as the Python tool did. */
function cleanPath(path: string, site: LtaSite): string {
  let out = path;
  for (const root of site.doubledRoots) {
    out = out.replace(new RegExp(`^/{2,}${root}(?=/|$)`), `/${root}`);
  }
  return out;
}

function checkPath(text: string, path: string): void {
  if (!path.startsWith('/') || /^\/*$/.test(path)) throw bad(text, 'it has no file path after the host');
  if (/[\s\x00-\x1f\x7f]/.test(path)) throw bad(text, 'the path holds whitespace or control characters');
  if (/[?#]/.test(path))
    throw bad(text, 'the path holds "?" or "#" (only the gfal form srm/managerv2?SFN= is known)');
}

function splitAuthority(text: string, authority: string): { host: string; port: string | undefined } {
  if (authority.includes('@')) throw bad(text, 'credentials inside a SURL are not allowed');
  const m = /^([^:]+)(?::(\d*))?$/.exec(authority);
  if (!m) throw bad(text, `cannot read the host "${authority}"`);
  return { host: m[1]!.toLowerCase(), port: m[2] || undefined };
}

function siteOf(text: string, host: string): LtaSite {
  const site = siteForHost(host);
  if (!site) throw bad(text, `host ${host} is not an LTA site (known: ${describeSites()})`);
  return site;
}

function make(text: string, site: LtaSite, rawPath: string, givenForm: LinkForm): Surl {
  checkPath(text, rawPath);
  const path = cleanPath(rawPath, site);
  return {
    surl: `${site.srmPrefix}${path}`,
    site: site.name,
    path,
    obsid: obsidOf(path),
    given: text,
    givenForm,
  };
}

function parseSrm(text: string, authority: string, rest: string): Surl {
  const { host, port } = splitAuthority(text, authority);
  const site = siteOf(text, host);
  if (host !== site.srmHost || (port !== undefined && Number(port) !== site.srmPort)) {
    throw bad(text, `the SRM endpoint of ${site.name} is ${site.srmPrefix}, not srm://${authority}`);
  }
  const gfal = GFAL_PATH_RE.exec(rest);
  return gfal ? make(text, site, gfal[1]!, 'gfal') : make(text, site, rest, 'srm');
}

function parseGsiftp(text: string, authority: string, rest: string): Surl {
  // Any GridFTP door of the site serves the same name space, so the path is kept as is.
  const { host } = splitAuthority(text, authority);
  return make(text, siteOf(text, host), rest, 'gsiftp');
}

function parseHttpsDoor(text: string, authority: string, rest: string): Surl {
  const { host } = splitAuthority(text, authority);
  const site = siteOf(text, host);
  const at = rest.indexOf('surl=');
  if (at < 0) throw bad(text, `an https link must be the download door ${site.httpsPrefix}<SURL>`);
  let inner = rest.slice(at + 'surl='.length);
  if (/^srm%3A/i.test(inner)) inner = decodeURIComponent(inner);
  const m = LINK_RE.exec(inner);
  if (!m || m[1]!.toLowerCase() !== 'srm')
    throw bad(text, 'the surl= parameter does not hold an srm:// SURL');
  const parsed = parseSrm(inner, m[2]!, m[3]!);
  if (parsed.site !== site.name) {
    throw bad(text, `the download door of ${site.name} cannot serve a SURL of ${parsed.site}`);
  }
  return { ...parsed, given: text, givenForm: 'https' };
}

/**
 * Parses one link to LTA data: a SURL (`srm://host:8443/path`), its gfal form
 * (`.../srm/managerv2?SFN=/path`), a GridFTP link of the site, or the site's https download door.
 * Throws E_SURL naming the link and the reason.
 */
export function parseSurl(input: string): Surl {
  const text = input.trim();
  if (text === '') throw new LrtError('E_SURL', 'empty SURL');
  if (/\s/.test(text)) throw bad(text, 'it contains whitespace');
  const m = LINK_RE.exec(text);
  if (!m) {
    throw bad(
      text,
      text.startsWith('/') ? 'it is a bare path without srm://host' : 'it has no scheme://host',
    );
  }
  const scheme = m[1]!.toLowerCase();
  const authority = m[2]!;
  const rest = m[3]!;
  switch (scheme) {
    case 'srm':
      return parseSrm(text, authority, rest);
    case 'gsiftp':
      return parseGsiftp(text, authority, rest);
    case 'https':
      return parseHttpsDoor(text, authority, rest);
    default:
      throw bad(text, `scheme ${scheme}:// is not one of srm://, gsiftp:// or the https download door`);
  }
}

/** True when `text` parses as a link to LTA data. */
export function isSurl(text: string): boolean {
  try {
    parseSurl(text);
    return true;
  } catch {
    return false;
  }
}
