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

/** Overlaps kept to name in a message; the rest are counted. */
const KEPT_OVERLAPS = 1000;

/**
 * The planned slices that share subbands with existing tokens, one existing token at a time (a
 * campaign's tokens are never all in memory): `plannedOf` names the planned slice of a subband.
 * A planned slice whose id exists with the same subbands is the same token made again (a re-run),
 * not an overlap; that twin may come after the overlaps it cancels, so `result` takes the twins
 * among `plannedIds()`. Pure.
 */
export class OverlapTally {
  readonly #plannedOf: (subband: number) => Slice | undefined;
  readonly #kept: Overlap[] = [];
  #count = 0;

  constructor(plannedOf: (subband: number) => Slice | undefined) {
    this.#plannedOf = plannedOf;
  }

  add(existing: Slice): void {
    const shared = new Map<string, { slice: Slice; subbands: number[] }>();
    for (const sb of existing.subbands) {
      const slice = this.#plannedOf(sb);
      if (!slice) continue;
      const entry = shared.get(slice.id) ?? { slice, subbands: [] };
      entry.subbands.push(sb);
      shared.set(slice.id, entry);
    }
    for (const { slice, subbands } of shared.values()) {
      if (slice.id === existing.id && same(slice.subbands, existing.subbands)) continue;
      this.#count += 1;
      if (this.#kept.length < KEPT_OVERLAPS)
        this.#kept.push({ id: slice.id, existing: existing.id, subbands });
    }
  }

  /** The planned ids of the overlaps kept: check which of them exist as twins. */
  plannedIds(): string[] {
    return [...new Set(this.#kept.map((o) => o.id))];
  }

  /** The overlaps kept (a planned slice with a twin dropped) and how many there are in all. */
  result(twins: ReadonlySet<string>): { overlaps: Overlap[]; count: number } {
    const overlaps = this.#kept.filter((o) => !twins.has(o.id));
    return { overlaps, count: this.#count - (this.#kept.length - overlaps.length) };
  }
}

/** findOverlaps on arrays: the planned slices that share subbands with `existing`. Pure. */
export function findOverlaps(planned: readonly Slice[], existing: readonly Slice[]): Overlap[] {
  const bySubband = new Map<number, Slice>();
  for (const slice of planned) for (const sb of slice.subbands) bySubband.set(sb, slice);
  const tally = new OverlapTally((sb) => bySubband.get(sb));
  for (const slice of existing) tally.add(slice);
  const plannedById = new Map(planned.map((s) => [s.id, s]));
  const twins = new Set(
    existing
      .filter((e) => {
        const twin = plannedById.get(e.id);
        return twin !== undefined && same(twin.subbands, e.subbands);
      })
      .map((e) => e.id),
  );
  return tally.result(twins).overlaps;
}

const ID_PAGE = 1000;

/** Ids from `prefix` on, by key, a page at a time (an observation's tokens of a type: `t_<type>_<OBSID>_`). */
async function* idPagesWithPrefix(picas: PicasDb, prefix: string): AsyncGenerator<string[]> {
  let startkey = prefix;
  for (;;) {
    let rows: { id: string }[];
    try {
      rows = (await picas.db.list({ startkey, endkey: `${prefix}\ufff0`, limit: ID_PAGE + 1 })).rows;
    } catch (err) {
      throw couchError(picas, `list tokens ${prefix}* in ${picas.name}`, err);
    }
    yield rows.slice(0, ID_PAGE).map((r) => r.id);
    if (rows.length <= ID_PAGE) return;
    startkey = rows[ID_PAGE]!.id;
  }
}

/**
 * The subbands an existing token covers: its `attachment` list, else the subband of its id;
 * undefined when there is no such token (deleted meanwhile).
 */
async function existingSlice(
  picas: PicasDb,
  id: string,
  attachment: string,
  subbandOf: (line: string) => number | undefined,
): Promise<Slice | undefined> {
  let text = '';
  try {
    text = (await readAttachment(picas, id, attachment)).data.toString('utf8');
  } catch (err) {
    if (isLrtError(err, 'E_TOKEN_NOT_FOUND')) return undefined;
    // No list: the id alone tells the subband.
    if (!isLrtError(err, 'E_ATTACHMENT')) throw err;
  }
  const fromList = text
    .split('\n')
    .map((line) => subbandOf(line.trim()))
    .filter((sb): sb is number => sb !== undefined);
  const fromId = /SB(\d+)$/.exec(id)?.[1];
  return { id, subbands: fromList.length > 0 ? fromList : fromId ? [Number(fromId)] : [] };
}

/**
 * The existing tokens whose id starts with `prefix`, a page of slices at a time: the subbands
 * their `attachment` lists (`subbandOf` reads one line).
 */
export async function* existingSlicePages(
  picas: PicasDb,
  prefix: string,
  attachment: string,
  subbandOf: (line: string) => number | undefined,
): AsyncGenerator<Slice[]> {
  for await (const ids of idPagesWithPrefix(picas, prefix)) {
    const slices = await mapWithConcurrency(ids, 8, (id) => existingSlice(picas, id, attachment, subbandOf));
    yield slices.filter((slice): slice is Slice => slice !== undefined);
  }
}

/**
 * The planned slices (`plannedOf` a subband) that overlap existing tokens of `prefix`, walking
 * them a page at a time: the overlaps to name (up to 1000) and their count.
 */
export async function overlapsWithExisting(
  picas: PicasDb,
  prefix: string,
  attachment: string,
  subbandOf: (line: string) => number | undefined,
  plannedOf: (subband: number) => Slice | undefined,
): Promise<{ overlaps: Overlap[]; count: number }> {
  const tally = new OverlapTally(plannedOf);
  for await (const page of existingSlicePages(picas, prefix, attachment, subbandOf)) {
    for (const slice of page) tally.add(slice);
  }
  const twins = new Set<string>();
  for (const id of tally.plannedIds()) {
    const existing = await existingSlice(picas, id, attachment, subbandOf);
    const first = existing?.subbands[0];
    const planned = first === undefined ? undefined : plannedOf(first);
    if (existing && planned?.id === id && same(planned.subbands, existing.subbands)) twins.add(id);
  }
  return tally.result(twins);
}
