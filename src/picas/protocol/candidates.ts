import type nano from 'nano';
import { LrtError } from '../../core';
import { couchError, type PicasDb, statusOf, type TokenDoc } from '../client';

/*
 * The read side of the claim (claim.ts): a page of a token view with the docs, and the candidate
 * cache with which a pilot reads the view once per page instead of once per claim.
 */

/**
 * What a claimer keeps between claims: the unused candidates of its last todo page and where in
 * the view that page came from. A view read costs the server several document writes (about seven
 * on the embedded server, index upkeep included), so a claimer reads it once per page, not once
 * per claim.
 */
export interface CandidateCache {
  docs: TokenDoc[];
  /** Epoch ms of the read. */
  readAt: number;
  /** The view's row count at the last read: random windows start below it. */
  totalRows: number;
  /**
   * The last row of the last page: the next page starts there (startkey + startkey_docid), so a
   * claimer walks the view from its random starting point without paying for `skip` again.
   */
  cursor?: ViewCursor;
}

export interface ViewCursor {
  key: unknown;
  id: string;
}

export function newCandidateCache(): CandidateCache {
  return { docs: [], readAt: 0, totalRows: 0 };
}

/** The page a pilot with a candidate cache reads: big enough that concurrent pilots rarely overlap. */
export const CACHED_CLAIM_PAGE_SIZE = 25;

/** Windows start at most this deep: `skip` costs the server a walk over the skipped rows. */
const MAX_WINDOW_SKIP = 2000;

/** Fisher-Yates with the injected rng. */
export function shuffle<T>(items: T[], rng: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

interface ViewRow {
  id: string;
  key?: unknown;
  doc?: TokenDoc | null;
}

export async function readView(
  picas: PicasDb,
  type: string,
  view: string,
  qs: Record<string, unknown>,
  signal: AbortSignal | undefined,
) {
  try {
    const res = await picas.server.request({
      db: picas.name,
      path: `_design/${encodeURIComponent(type)}/_view/${encodeURIComponent(view)}`,
      qs: { include_docs: true, ...qs },
      signal,
    } as nano.RequestOptions);
    const body = res as { rows?: ViewRow[]; total_rows?: number };
    const all = body.rows ?? [];
    const last = all[all.length - 1];
    const rows = all.filter((r): r is ViewRow & { doc: TokenDoc } => !!r.doc);
    return {
      rows,
      totalRows: typeof body.total_rows === 'number' ? body.total_rows : rows.length,
      end: last ? ({ key: last.key, id: last.id } satisfies ViewCursor) : undefined,
    };
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    if (statusOf(err) === 404) {
      throw new LrtError(
        'E_VIEW_NOT_FOUND',
        `view ${view} of token type ${type} not found in ${picas.name} (HTTP 404: no such view, design document or database): create the views of _design/${type} first`,
        { details: { database: picas.name, type, view }, cause: err },
      );
    }
    throw couchError(picas, `read view ${type}/${view}`, err);
  }
}

/**
 * The reads of a todo step with a cache, in order until one yields a claim: the page after the
 * cursor, then two random windows of the view, all from the index as it stands
 * (stale=update_after: the reply does not wait for the index update it starts; the docs come
 * fresh with include_docs, so rows of tokens claimed since cost no PUT); last the top of the
 * up-to-date index (empty there means the view is empty).
 */
export function todoReads(
  cache: CandidateCache,
  s: { pageSize: number; rng: () => number },
): Array<{ qs: Record<string, unknown>; after?: ViewCursor }> {
  const room = Math.min(MAX_WINDOW_SKIP, Math.max(0, cache.totalRows - s.pageSize));
  const randomWindow = () => {
    const skip = Math.floor(s.rng() * (room + 1));
    return { limit: s.pageSize, ...(skip > 0 ? { skip } : {}), stale: 'update_after' };
  };
  const reads: Array<{ qs: Record<string, unknown>; after?: ViewCursor }> = [];
  const cursor = cache.cursor;
  if (cursor && cursor.key !== undefined) {
    // The cursor's own row comes back first when it is still indexed: one more row covers it.
    const qs = {
      startkey: cursor.key,
      startkey_docid: cursor.id,
      limit: s.pageSize + 1,
      stale: 'update_after',
    };
    reads.push({ qs, after: cursor });
  }
  reads.push({ qs: randomWindow() }, { qs: randomWindow() }, { qs: { limit: s.pageSize } });
  return reads;
}
