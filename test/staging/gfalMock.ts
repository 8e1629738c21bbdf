import type { Surl } from '../../src/srm';
import { subbandOf } from '../../src/srm';

/*
 * Locality for tests through gfal's real mock plugin: a SURL is turned into
 * `mock://lta.test/<path>?user.status=STATE`, and the real gfal-xattr (or the gfal2 binding)
 * reads the state back. The state of each SURL is chosen by its subband.
 */

export type StateRule = (subband: number | undefined) => string | { errno: number };

/** Subbands 100-109 ONLINE, 110-119 ONLINE_AND_NEARLINE, 150 missing, the rest NEARLINE. */
export const MIXED: StateRule = (sb) => {
  if (sb === undefined) return 'NEARLINE';
  if (sb >= 100 && sb <= 109) return 'ONLINE';
  if (sb >= 110 && sb <= 119) return 'ONLINE_AND_NEARLINE';
  if (sb === 150) return { errno: 2 };
  return 'NEARLINE';
};

export function mockLinkOf(rule: StateRule): (surl: Surl) => string {
  return (surl) => {
    const state = rule(subbandOf(surl.path));
    const query = typeof state === 'string' ? `user.status=${state}` : `errno=${state.errno}`;
    return `mock://lta.test${surl.path}?${query}`;
  };
}
