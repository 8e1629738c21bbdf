import type nano from 'nano';
import type { PicasDb } from './client';
import { withDbRetry } from './dbRetry';
import { type StoredToken, type TokenDoc, tokenFromDoc } from './tokenDoc';

/*
 * The one reader of views: a GET of `_design/<doc>/_view/<view>` and the rows it answers. Which
 * view to read and how to walk it are viewQuery.ts's; the claim reads through here directly.
 */

/** A row of a view; `doc` with include_docs (null when the document was deleted since). */
export interface ViewRow {
  id: string;
  key: unknown;
  value: unknown;
  doc?: StoredToken | null;
}

/** The tokens of rows read with include_docs; a row whose document is gone is left out. */
export function rowTokens(rows: readonly ViewRow[]): TokenDoc[] {
  return rows.flatMap((row) => (row.doc ? [tokenFromDoc(row.doc)] : []));
}

export interface ViewAnswer {
  total_rows?: number;
  rows: ViewRow[];
}

/**
 * GET `_design/<designDoc>/_view/<view>`: every view read goes through here (the claim's too).
 * nano JSON-encodes the key parameters (`startkey`, `key`...). Errors reject as nano's.
 */
export async function fetchView(
  picas: PicasDb,
  designDoc: string,
  view: string,
  qs: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<ViewAnswer> {
  const request = () =>
    picas.server.request({
      db: picas.name,
      path: `_design/${encodeURIComponent(designDoc)}/_view/${encodeURIComponent(view)}`,
      qs,
      signal,
    } as nano.RequestOptions) as Promise<Partial<ViewAnswer>>;
  // An index being built (a new or changed design document) makes CouchDB answer "timeout": wait
  // for it, saying so (picas.onWait). Outages are the caller's to wait out (maxWaitMs 0).
  const answer = await withDbRetry(request, {
    what: `view ${view} of _design/${designDoc}`,
    maxWaitMs: 0,
    indexWaitMs: picas.indexWaitMs,
    onWait: picas.onWait,
    signal,
  });
  return { total_rows: answer.total_rows, rows: answer.rows ?? [] };
}
