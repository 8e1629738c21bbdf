import type nano from 'nano';
import { openPicas, type PicasDb } from '../../src/picas/client';
import { splitUrlCredentials } from '../../src/picas/connectionSettings';
import { ensureDesignDoc } from '../../src/picas/designDocStore';
import type { StoredToken } from '../../src/picas/tokenDoc';
import { tokenSkeleton } from '../../src/picas/tokens';
import { claimDesignDocName, SPREAD_VIEW } from '../../src/picas/viewDefinitions';

/**
 * The database side of the claim benchmark: a fresh database of free tokens with the standard
 * views of their type, a request counter around the nano handles, and the final check of what
 * the server holds after a drain.
 */

export function picasAt(serverUrl: string, database: string): PicasDb {
  const split = splitUrlCredentials(serverUrl);
  return openPicas({ url: split.url, database, user: split.user, password: split.password });
}

/** Free tokens of the GRID_LRT shape (one per subband of a few observations). */
export function benchTokens(type: string, count: number): StoredToken[] {
  return Array.from({ length: count }, (_, i) => {
    const obsid = 345916 + Math.floor(i / 244);
    const sb = String(i % 244).padStart(3, '0');
    return {
      _id: `t_${type}_L${obsid}_SB${sb}`,
      ...tokenSkeleton(type),
      OBSID: `L${obsid}`,
      STARTSB: sb,
      PIPELINE_STEP: 'pref3_targ1',
      RESULTS_DIR: `gsiftp://gridftp.grid.sara.nl:2811/pnfs/grid.sara.nl/data/lofar/user/sksp/L${obsid}`,
    };
  });
}

/**
 * Creates database `name` with the design documents of `type` (ensureDesignDoc) and `count` free tokens, and
 * builds the view index before the clock starts. Returns the tokens as stored (with `_rev`).
 */
export async function freshTokenDb(
  serverUrl: string,
  name: string,
  type: string,
  count: number,
): Promise<{ picas: PicasDb; tokens: StoredToken[] }> {
  const picas = picasAt(serverUrl, name);
  await picas.server.db.create(name);
  await ensureDesignDoc(picas, type);
  const docs = benchTokens(type, count);
  const rows = await picas.db.bulk({ docs });
  const failed = rows.filter((r) => r.error);
  if (failed.length) throw new Error(`seeding ${name}: ${failed.length} of ${count} tokens not written`);
  const revs = new Map(rows.map((r) => [r.id, r.rev]));
  // Index 2,000 documents now, so neither claim pays it inside the timed drain.
  const views = [
    `${type}/_view/todo`,
    `${type}/_view/expired`,
    `${claimDesignDocName(type)}/_view/${SPREAD_VIEW}`,
  ];
  for (const view of views) {
    await picas.server.request({
      db: name,
      path: `_design/${encodeURI(view)}`,
      qs: { limit: 1 },
    } as nano.RequestOptions);
  }
  return { picas, tokens: docs.map((d) => ({ ...d, _rev: revs.get(d._id) })) };
}

/** The same database handle with every HTTP request the claim code makes counted. */
export function countingPicas(picas: PicasDb): { picas: PicasDb; requests: () => number } {
  let requests = 0;
  const counted =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      requests++;
      return fn(...args);
    };
  const server = { ...picas.server, request: counted(picas.server.request) } as nano.ServerScope;
  const db = {
    ...picas.db,
    get: counted(picas.db.get),
    insert: counted(picas.db.insert),
  } as nano.DocumentScope<StoredToken>;
  return { picas: { ...picas, server, db }, requests: () => requests };
}

export interface StoredCheck {
  tokens: number;
  /** Tokens with lock == 0: never claimed. */
  unclaimed: number;
  /** Tokens written more than once after seeding (`_rev` generation > 2): claimed twice. */
  writtenTwice: number;
  /** Claimed tokens without a lease (only grid-lrt writes one). */
  withoutLease: number;
}

/** What the server holds after a drain, read with one `_all_docs` request. */
export async function checkStored(picas: PicasDb, type: string): Promise<StoredCheck> {
  const all = await picas.db.list({ include_docs: true });
  const tokens = all.rows
    .map((r) => r.doc)
    .filter((d): d is nano.DocumentGetResponse & StoredToken => !!d && d.type === type);
  const generation = (d: StoredToken) => Number.parseInt(String(d._rev).split('-')[0] ?? '', 10);
  return {
    tokens: tokens.length,
    unclaimed: tokens.filter((d) => !(Number(d.lock) > 0)).length,
    writtenTwice: tokens.filter((d) => generation(d) > 2).length,
    withoutLease: tokens.filter((d) => Number(d.lock) > 0 && !d.lease).length,
  };
}
