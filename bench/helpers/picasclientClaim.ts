import { hostname } from 'node:os';
import type nano from 'nano';
import type { PicasDb } from '../../src/picas/client';
import { statusOf } from '../../src/picas/client';
import type { StoredToken } from '../../src/picas/tokenDoc';

/**
 * SURF picasclient's claim, reproduced for the benchmark (picas/iterators.py `_claim_task`,
 * picas/clients.py `get_single_from_view`, picas/documents.py `Task.lock`):
 *
 *   for _ in range(allowed_failures=10):
 *       rows = GET view?limit=100            # window_size=100, no include_docs
 *       row = random.choice(rows)            # IndexError on an empty view: no more work
 *       doc = GET row.id
 *       doc.lock = seconds(); doc.hostname = gethostname()   # plus batch job ids
 *       PUT doc                              # ResourceConflict (409): try again
 *   raise EnvironmentError("Unable to claim task.")        # the pilot stops
 *
 * It never checks `lock == 0` on the document it fetched: when the row was claimed between the
 * view read and the GET, the PUT carries the fresh `_rev` and succeeds, a second claim.
 */

export const PICASCLIENT_WINDOW = 100;
export const PICASCLIENT_ALLOWED_FAILURES = 10;

export class PicasclientGaveUp extends Error {
  constructor(readonly conflicts: number) {
    super('Unable to claim task.');
  }
}

export interface PicasclientOptions {
  rng?: () => number;
  host?: string;
  onConflict?: (id: string) => void;
}

/** The claimed token as written, or null when the view was empty. Throws PicasclientGaveUp. */
export async function picasclientClaim(
  picas: PicasDb,
  type: string,
  options: PicasclientOptions = {},
): Promise<StoredToken | null> {
  const rng = options.rng ?? Math.random;
  const host = options.host ?? hostname();
  for (let failures = 0; failures < PICASCLIENT_ALLOWED_FAILURES; failures++) {
    const view = (await picas.server.request({
      db: picas.name,
      path: `_design/${encodeURIComponent(type)}/_view/todo`,
      qs: { limit: PICASCLIENT_WINDOW },
    } as nano.RequestOptions)) as { rows: { id: string }[] };
    if (view.rows.length === 0) return null;
    const row = view.rows[Math.floor(rng() * view.rows.length)]!;
    // couchdb-python's db.get returns None on 404 and picasclient raises ValueError: the pilot dies.
    const doc = await picas.db.get(row.id);
    const locked: StoredToken = { ...doc, lock: Math.floor(Date.now() / 1000), hostname: host };
    try {
      const written = await picas.db.insert(locked);
      return { ...locked, _rev: written.rev };
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
      options.onConflict?.(row.id);
    }
  }
  throw new PicasclientGaveUp(PICASCLIENT_ALLOWED_FAILURES);
}
