import { gsiftpLink, parseSurl } from '../srm';
import { gsiftpMover } from './gsiftp';
import type { Mover } from './types';

/** A SURL (or its gfal form) as the site's GridFTP door link; E_SURL for a link of no LTA site. */
export function srmToGsiftp(surl: string): string {
  return gsiftpLink(parseSurl(surl));
}

/** srm:// through the LTA site's GridFTP door: the LTA's SRM endpoints are only a name space here. */
export const srmMover: Mover = {
  schemes: ['srm'],
  fetch: (url, dest, options) => gsiftpMover.fetch(srmToGsiftp(url), dest, options),
  put: (src, url, options) => gsiftpMover.put(src, srmToGsiftp(url), options),
  stat: (url, options) => gsiftpMover.stat(srmToGsiftp(url), options),
  checksum: (url, algorithm, options) => gsiftpMover.checksum!(srmToGsiftp(url), algorithm, options),
};
