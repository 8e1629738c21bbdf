import { isLrtError, mapWithConcurrency } from '../core';
import { readAttachment } from './attachments';
import { couchError, type PicasDb } from './client';

/*
 * `lrt tokens create` refuses slices that overlap the subbands of existing tokens of the same
 * type: re-slicing an observation with another --per-token would otherwise make SB100 (100-109)
 * next to SB105 (105-109), and those subbands would be processed twice. The subbands of a token
 * are read from its srm.txt, so tokens GRID_LRT made count as well.
 */

export interface Slice {
  id: string;
  subbands: readonly number[];
}

export interface Overlap {
  /** The token that would be made. */
  id: string;
  /** The existing token it overlaps. */
  existing: string;
  subbands: number[];
}

const sorted = (list: readonly number[]) => [...list].sort((x, y) => x - y).join(',');
const same = (a: readonly number[], b: readonly number[]) => sorted(a) === sorted(b);

/**
 * The planned slices that share subbands with an existing token. A planned slice whose id exists
 * with the same subbands is the same token made again (a re-run), not an overlap. Pure.
 */
export function findOverlaps(planned: readonly Slice[], existing: readonly Slice[]): Overlap[] {
  const owners = new Map<number, string[]>();
  for (const slice of existing) {
    for (const sb of slice.subbands) owners.set(sb, [...(owners.get(sb) ?? []), slice.id]);
  }
  const byId = new Map(existing.map((s) => [s.id, s]));
  const overlaps: Overlap[] = [];
  for (const slice of planned) {
    const twin = byId.get(slice.id);
    if (twin && same(twin.subbands, slice.subbands)) continue;
    const shared = new Map<string, number[]>();
    for (const sb of slice.subbands) {
      for (const owner of owners.get(sb) ?? []) shared.set(owner, [...(shared.get(owner) ?? []), sb]);
    }
    for (const [owner, subbands] of shared) overlaps.push({ id: slice.id, existing: owner, subbands });
  }
  return overlaps;
}

const ID_PAGE = 1000;

/** Ids from `prefix` on, by key (an observation's tokens of a type: `t_<type>_<OBSID>_`). */
async function idsWithPrefix(picas: PicasDb, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  let startkey = prefix;
  for (;;) {
    let rows: { id: string }[];
    try {
      rows = (await picas.db.list({ startkey, endkey: `${prefix}\ufff0`, limit: ID_PAGE + 1 })).rows;
    } catch (err) {
      throw couchError(picas, `list tokens ${prefix}* in ${picas.name}`, err);
    }
    ids.push(...rows.slice(0, ID_PAGE).map((r) => r.id));
    if (rows.length <= ID_PAGE) return ids;
    startkey = rows[ID_PAGE]!.id;
  }
}

/**
 * The existing tokens whose id starts with `prefix` and the subbands their `attachment` lists
 * (`subbandOf` reads one line). A token without that attachment covers the subband of its id.
 */
export async function existingSlices(
  picas: PicasDb,
  prefix: string,
  attachment: string,
  subbandOf: (line: string) => number | undefined,
): Promise<Slice[]> {
  const ids = await idsWithPrefix(picas, prefix);
  return mapWithConcurrency(ids, 8, async (id) => {
    let text = '';
    try {
      text = (await readAttachment(picas, id, attachment)).data.toString('utf8');
    } catch (err) {
      // Gone meanwhile, or no list: the id alone tells the subband.
      if (!isLrtError(err, 'E_ATTACHMENT') && !isLrtError(err, 'E_TOKEN_NOT_FOUND')) throw err;
    }
    const fromList = text
      .split('\n')
      .map((line) => subbandOf(line.trim()))
      .filter((sb): sb is number => sb !== undefined);
    const fromId = /SB(\d+)$/.exec(id)?.[1];
    return { id, subbands: fromList.length > 0 ? fromList : fromId ? [Number(fromId)] : [] };
  });
}
