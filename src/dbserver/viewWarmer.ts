import { setTimeout as delay } from 'node:timers/promises';

/*
 * Indexes built in the background, as CouchDB 3's ken does: pouch builds a view's index when the
 * view is read, so on 100k fresh tokens the fleet's first claim waited 15 s while the whole
 * `todo_spread` index was built. Here the views of chosen design documents (`lrt db serve`: the
 * claim's, `_design/claim:<type>`) are brought up to date about a second after writes to their
 * database, and at start for the databases on disk. While writes keep coming (a `tokens create`)
 * the update trails them, by seconds (pouch's indexer gets little of the event loop then); the
 * claim's first reads do not wait for it (viewEngine.ts answers `update=lazy` from the index as
 * it stands) and find the tokens indexed so far. One warm-up per database at a time; writes
 * during one ask for another after it. Building every view this way would cost a multiple of the
 * writes themselves (about 0.15 ms per document and view): the others are built when first read.
 */

/** What of a PouchDB database handle the warmer uses. */
export interface WarmableDb {
  allDocs(opts: Record<string, unknown>): Promise<{
    rows: Array<{ id: string; doc?: { views?: Record<string, { map?: unknown; reduce?: unknown }> } }>;
  }>;
  query(view: string, opts: Record<string, unknown>): Promise<unknown>;
}

export interface ViewWarmerOptions {
  /** Design document ids that start with one of these are kept warm, e.g. `_design/claim:`. */
  designPrefixes: string[];
  /** The database handle of a name. */
  open(name: string): WarmableDb;
  /** The names of the databases there are now (a deleted one is never opened again). */
  databases(): Promise<string[]>;
  /** After a write, wait this long for more before warming (default 1000 ms). */
  delayMs?: number;
}

export interface ViewWarmer {
  /** A write to `database` was answered. */
  written(database: string): void;
  /** Settles when no warm-up is running or due (for tests and benchmarks). */
  idle(): Promise<void>;
  close(): void;
}

interface DatabaseWarmth {
  timer: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
  again: boolean;
}

export function startViewWarmer(options: ViewWarmerOptions): ViewWarmer {
  const delayMs = options.delayMs ?? 1000;
  const states = new Map<string, DatabaseWarmth>();
  let closed = false;

  const warm = async (name: string): Promise<void> => {
    if (!(await options.databases()).includes(name)) return;
    const db = options.open(name);
    for (const prefix of options.designPrefixes) {
      const designs = await db.allDocs({ startkey: prefix, endkey: `${prefix}\ufff0`, include_docs: true });
      for (const row of designs.rows) {
        for (const [view, source] of Object.entries(row.doc?.views ?? {})) {
          if (closed) return;
          if (typeof source?.map !== 'string') continue;
          // limit=0 reads no row: the index is brought up to date, in the queue of the view's reads.
          await db.query(`${row.id.slice('_design/'.length)}/${view}`, { limit: 0, reduce: false });
        }
      }
    }
  };

  const schedule = (name: string, state: DatabaseWarmth) => {
    state.timer = setTimeout(() => {
      state.timer = undefined;
      state.running = warm(name)
        // A database dropped or a view broken meanwhile: nothing to warm; its reader will hear why.
        .catch(() => undefined)
        .finally(() => {
          state.running = undefined;
          if (state.again && !closed) {
            state.again = false;
            schedule(name, state);
          }
        });
    }, delayMs);
    state.timer.unref();
  };

  return {
    written(name) {
      if (closed) return;
      let state = states.get(name);
      if (!state) {
        state = { timer: undefined, running: undefined, again: false };
        states.set(name, state);
      }
      if (state.running) state.again = true;
      else if (!state.timer) schedule(name, state);
    },
    async idle() {
      for (;;) {
        const busy = [...states.values()].filter((s) => s.timer || s.running);
        if (busy.length === 0) return;
        await Promise.all(busy.map((s) => s.running ?? delay(delayMs)));
      }
    },
    close() {
      closed = true;
      for (const state of states.values()) clearTimeout(state.timer);
    },
  };
}

/** The database a request writes to: the first segment of a write's path, unless it is `_...`. */
export function writtenDatabase(method: string, path: string): string | undefined {
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return undefined;
  const [, first, rest] = /^\/([^/]+)(\/.*)?$/.exec(path) ?? [];
  if (!first || first.startsWith('_')) return undefined;
  // PUT/DELETE of the database itself: nothing to index (a deleted one must not be opened again).
  if (!rest || rest === '/') return undefined;
  // Reads by POST (_all_docs, _find, view keys) write nothing.
  if (/^\/(_all_docs|_find|_explain|_revs_diff|_bulk_get|_changes|_design\/[^/]+\/_view\/)/.test(rest))
    return undefined;
  return decodeURIComponent(first);
}
