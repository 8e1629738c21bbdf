/** The LOFAR Long Term Archive sites: the host part of a SURL decides the site. */
export type SiteName = 'sara' | 'juelich' | 'poznan';

export interface LtaSite {
  name: SiteName;
  /** Any host in this DNS domain belongs to the site. */
  domain: string;
  srmHost: string;
  srmPort: number;
  /** `srm://<srmHost>:<srmPort>`: a SURL is this prefix followed by the path. */
  srmPrefix: string;
  /** GridFTP door replacing the SRM prefix in gsiftp links. */
  gsiftpPrefix: string;
  /** The https download door: the SURL is appended to it. */
  httpsPrefix: string;
  /** Path roots whose doubled leading slash the Python tool collapsed (`//pnfs` -> `/pnfs`). */
  doubledRoots: readonly string[];
}

function site(
  name: SiteName,
  domain: string,
  srmHost: string,
  gsiftpHost: string,
  httpsPrefix: string,
  doubledRoots: readonly string[],
): LtaSite {
  return {
    name,
    domain,
    srmHost,
    srmPort: 8443,
    srmPrefix: `srm://${srmHost}:8443`,
    gsiftpPrefix: `gsiftp://${gsiftpHost}:2811`,
    httpsPrefix,
    doubledRoots,
  };
}

export const LTA_SITES: readonly LtaSite[] = Object.freeze([
  site(
    'sara',
    'grid.sara.nl',
    'srm.grid.sara.nl',
    'gridftp.grid.sara.nl',
    'https://lofar-download.grid.sara.nl/lofigrid/SRMFifoGet.py?surl=',
    ['pnfs'],
  ),
  site(
    'juelich',
    'fz-juelich.de',
    'lofar-srm.fz-juelich.de',
    'lofar-gridftp.fz-juelich.de',
    'https://lofar-download.fz-juelich.de/webserver-lofar/SRMFifoGet.py?surl=',
    ['pnfs'],
  ),
  site(
    'poznan',
    'lofar.psnc.pl',
    'lta-head.lofar.psnc.pl',
    'gridftp.lofar.psnc.pl',
    'https://lta-download.lofar.psnc.pl/lofigrid/SRMFifoGet.py?surl=',
    ['pnfs', 'lofar'],
  ),
]);

export function siteByName(name: string): LtaSite | undefined {
  return LTA_SITES.find((s) => s.name === name);
}

/** The site a host belongs to: the host is the site's domain or a name inside it. */
export function siteForHost(host: string): LtaSite | undefined {
  const h = host.toLowerCase();
  return LTA_SITES.find((s) => h === s.domain || h.endsWith(`.${s.domain}`));
}

/** The site whose domain appears in a bare path (`/pnfs/grid.sara.nl/...`), for hints only. */
export function siteForPath(path: string): LtaSite | undefined {
  return LTA_SITES.find((s) => path.includes(`/${s.domain}/`));
}

export function describeSites(): string {
  return LTA_SITES.map((s) => `${s.name} (${s.domain})`).join(', ');
}
