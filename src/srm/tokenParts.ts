import { LrtError } from '../core';
import type { Chunk } from './slice';

/** The name of the attachment a token's SURLs travel in. */
export const SRM_ATTACHMENT = 'srm.txt';

function isSurlArray(value: Chunk | readonly { surl: string }[]): value is readonly { surl: string }[] {
  return Array.isArray(value);
}

/** The text of a token's `srm.txt` attachment: one SURL per line, trailing newline. */
export function srmTxt(chunk: Chunk | readonly { surl: string }[]): string {
  // Arrays have an entries() method too, so test for the array first.
  const entries: readonly { surl: string }[] = isSurlArray(chunk) ? chunk : chunk.entries;
  if (entries.length === 0)
    throw new LrtError('E_SURL_LIST', 'an srm.txt attachment needs at least one SURL');
  return `${entries.map((e) => e.surl).join('\n')}\n`;
}

// Token types name design documents (`_design/<type>`) and views: keep them to safe characters.
const TOKEN_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const OBSID_RE = /^L\d+$/;
const KEY_RE = /^\d+$/;

/** GRID_LRT's deterministic token id `t_<type>_<OBSID>_SB<key>`, e.g. `t_pref_cal1_L229507_SB100`. */
export function tokenId(type: string, obsid: string, key: string): string {
  if (!TOKEN_TYPE_RE.test(type)) {
    throw new LrtError('E_CONFIG', `token type "${type}" must be letters, digits, '_', '.' or '-'`);
  }
  if (!OBSID_RE.test(obsid)) throw new LrtError('E_CONFIG', `"${obsid}" is not an OBSID (L<digits>)`);
  if (!KEY_RE.test(key)) throw new LrtError('E_CONFIG', `"${key}" is not a subband key (digits)`);
  return `t_${type}_${obsid}_SB${key}`;
}
