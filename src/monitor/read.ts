import { isLrtError } from '../core';
import type { PicasDb } from '../picas/client';
import { readFinishedDesignDoc } from '../picas/designDocStore';
import { TAKEN_OVER_VIEW } from '../picas/finishedViews';
import type { TokenDoc } from '../picas/tokenDoc';
import { EXPIRED_VIEW } from '../picas/viewDefinitions';
import { listTokens, queryView, resolveView, tokenOverview } from '../picas/viewQuery';
import { rowTokens } from '../picas/viewRead';
import type { ReadTime, StatusInput } from './report';

export interface ReadStatusOptions {
  /** Epoch seconds; default now. */
  now?: number;
  /** At most this many done (and, separately, error) tokens are read for times and rates. */
  maxDocs?: number;
  /** At most this many stale leases (and, separately, taken-over tokens) are read. */
  maxStale?: number;
}

export const DEFAULT_MAX_DOCS = 5000;

/**
 * The docs of a view that older design documents lack (`expired`, `taken_over`): a missing view
 * means nothing to report, not an error.
 */
async function optionalViewDocs(
  picas: PicasDb,
  type: string,
  view: string,
  params: Record<string, unknown>,
): Promise<TokenDoc[]> {
  let resolved: Awaited<ReturnType<typeof resolveView>>;
  try {
    resolved = await resolveView(picas, type, view);
  } catch (err) {
    if (isLrtError(err, 'E_VIEW_NOT_FOUND')) return [];
    throw err;
  }
  const answer = await queryView(picas, resolved, { ...params, include_docs: true });
  return rowTokens(answer.rows);
}

/**
 * Everything `lrt status` and `lrt serve` show, read from the views of `_design/<type>` and
 * `_design/finished:<type>` (finished as every tool writes it, tokens taken over by another tool).
 */
export async function readStatusInput(
  picas: PicasDb,
  type: string,
  options: ReadStatusOptions = {},
): Promise<StatusInput> {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const maxDocs = options.maxDocs ?? DEFAULT_MAX_DOCS;
  const reads: ReadTime[] = [];
  const timed = async <T>(read: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await work();
    } finally {
      reads.push({ read, seconds: (performance.now() - started) / 1000 });
    }
  };
  const counts = await timed('overview_total (counts)', () => tokenOverview(picas, type));
  const maxStale = options.maxStale ?? 200;
  const [done, failed, stale, takenOver, finishedDoc] = await Promise.all([
    (counts.done ?? 0) > 0
      ? timed('done (times)', () => listTokens(picas, type, 'done', { includeDocs: true, limit: maxDocs }))
      : [],
    (counts.error ?? 0) > 0
      ? timed('error (failures)', () =>
          listTokens(picas, type, 'error', { includeDocs: true, limit: maxDocs }),
        )
      : [],
    timed('expired (stale leases)', () =>
      optionalViewDocs(picas, type, EXPIRED_VIEW, { endkey: now, limit: maxStale }),
    ),
    timed('taken_over', () => optionalViewDocs(picas, type, TAKEN_OVER_VIEW, { limit: maxStale })),
    timed('design document', () => readFinishedDesignDoc(picas, type)),
  ]);
  return {
    type,
    database: picas.name,
    now,
    counts,
    done: rowTokens(done),
    failed: rowTokens(failed),
    stale,
    takenOver,
    finishedViews: finishedDoc !== undefined,
    reads,
  };
}
