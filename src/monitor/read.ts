import { isLrtError } from '../core';
import type { PicasDb, TokenDoc } from '../picas/client';
import { EXPIRED_VIEW } from '../picas/designDoc';
import { listTokens, queryView, resolveView, tokenOverview } from '../picas/viewQuery';
import type { StatusInput } from './report';

export interface ReadStatusOptions {
  /** Epoch seconds; default now. */
  now?: number;
  /** At most this many done (and, separately, error) tokens are read for times and rates. */
  maxDocs?: number;
  /** At most this many stale leases are read. */
  maxStale?: number;
}

export const DEFAULT_MAX_DOCS = 5000;

function docsOf(rows: { doc?: TokenDoc }[]): TokenDoc[] {
  return rows.map((r) => r.doc).filter((d): d is TokenDoc => d !== undefined && d !== null);
}

/**
 * Claimed tokens whose lease expired. A design doc from an older tool has no `expired` view:
 * then there is nothing to report, not an error.
 */
async function staleTokens(picas: PicasDb, type: string, now: number, limit: number): Promise<TokenDoc[]> {
  let resolved: Awaited<ReturnType<typeof resolveView>>;
  try {
    resolved = await resolveView(picas, type, EXPIRED_VIEW);
  } catch (err) {
    if (isLrtError(err, 'E_VIEW_NOT_FOUND')) return [];
    throw err;
  }
  const answer = await queryView(picas, resolved, { endkey: now, include_docs: true, limit });
  return docsOf(answer.rows);
}

/** Everything `lrt status` and `lrt serve` show, read from the views of `_design/<type>`. */
export async function readStatusInput(
  picas: PicasDb,
  type: string,
  options: ReadStatusOptions = {},
): Promise<StatusInput> {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const maxDocs = options.maxDocs ?? DEFAULT_MAX_DOCS;
  const counts = await tokenOverview(picas, type);
  const [done, failed, stale] = await Promise.all([
    (counts.done ?? 0) > 0 ? listTokens(picas, type, 'done', { includeDocs: true, limit: maxDocs }) : [],
    (counts.error ?? 0) > 0 ? listTokens(picas, type, 'error', { includeDocs: true, limit: maxDocs }) : [],
    staleTokens(picas, type, now, options.maxStale ?? 200),
  ]);
  return { type, database: picas.name, now, counts, done: docsOf(done), failed: docsOf(failed), stale };
}
