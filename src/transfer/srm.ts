import { gsiftpLink, parseSurl } from '../srm';
import { gsiftpMover } from './gsiftp';
import type { Mover, TransferOptions } from './types';

/**
 * A SURL (or its gfal form) as the site's GridFTP door link; E_SURL for a link of no LTA site.
 * `doors` replaces a site's door (`{sara: "gsiftp://door.example:2811/prefix"}`): the SURL's path
 * is appended to it.
 */
export function srmToGsiftp(surl: string, doors?: Readonly<Record<string, string>>): string {
  const parsed = parseSurl(surl);
  const door = doors?.[parsed.site];
  return door ? `${door.replace(/\/+$/, '')}${parsed.path}` : gsiftpLink(parsed);
}

const viaDoor = (url: string, options?: TransferOptions) => srmToGsiftp(url, options?.gsiftpDoors);

/** srm:// through the LTA site's GridFTP door: the LTA's SRM endpoints are only a name space here. */
export const srmMover: Mover = {
  schemes: ['srm'],
  fetch: (url, dest, options) => gsiftpMover.fetch(viaDoor(url, options), dest, options),
  put: (src, url, options) => gsiftpMover.put(src, viaDoor(url, options), options),
  stat: (url, options) => gsiftpMover.stat(viaDoor(url, options), options),
  checksum: (url, algorithm, options) => gsiftpMover.checksum!(viaDoor(url, options), algorithm, options),
};
