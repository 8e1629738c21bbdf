import type nano from 'nano';
import { sleep } from '../core';
import type { PicasDb } from './client';
import { statusOf } from './client';
import { fetchView } from './viewRead';

/*
 * Building a view index before anyone needs it, with the progress CouchDB reports in
 * `/_active_tasks` (tasks of type `indexer`: `design_document`, `changes_done`, `total_changes`,
 * `progress`). A read of the up-to-date view starts the build and answers when it is done; CouchDB
 * answers "timeout" after its request timeout meanwhile, which fetchView waits out.
 */

/** An `indexer` task of `/_active_tasks` (CouchDB 3; one per shard on a cluster). */
export interface IndexerTask {
  type: string;
  database?: string;
  design_document?: string;
  changes_done?: number;
  total_changes?: number;
  progress?: number;
}

export interface IndexProgress {
  /** Changes indexed and to index, summed over the shards still building; undefined when unknown. */
  changesDone?: number;
  totalChanges?: number;
  elapsedMs: number;
  /**
   * `active_tasks`: from the server's `/_active_tasks`; `none`: the server lists no indexer task
   * for it (the embedded server lists none, a small index may be done before the first look);
   * `refused`: `/_active_tasks` is for server admins only (HTTP 401/403) or missing.
   */
  source: 'active_tasks' | 'none' | 'refused';
}

/** A task's database is the database itself, or on a cluster a shard of it: `shards/<range>/<db>.<suffix>`. */
export function isTaskOfDatabase(taskDatabase: string | undefined, database: string): boolean {
  if (taskDatabase === undefined) return false;
  if (taskDatabase === database) return true;
  const shard = /^shards\/[0-9a-f]+-[0-9a-f]+\/(.+)\.[0-9]+$/.exec(taskDatabase);
  return shard?.[1] === database;
}

/** The indexer tasks of one design document of `database`, summed (pure). */
export function indexerProgress(
  tasks: readonly IndexerTask[],
  database: string,
  designDocId: string,
): { changesDone: number; totalChanges: number } | undefined {
  const mine = tasks.filter(
    (t) =>
      t.type === 'indexer' && t.design_document === designDocId && isTaskOfDatabase(t.database, database),
  );
  if (mine.length === 0) return undefined;
  let changesDone = 0;
  let totalChanges = 0;
  for (const t of mine) {
    changesDone += Number(t.changes_done) || 0;
    totalChanges += Number(t.total_changes) || 0;
  }
  return { changesDone, totalChanges };
}

/** The index builds of one database the server shows, per design document. */
export interface IndexBuilds {
  builds: Array<{ designDoc: string; changesDone: number; totalChanges: number }>;
  /** As IndexProgress's: whether `/_active_tasks` could be read, and listed a build. */
  source: IndexProgress['source'];
}

/** The indexer tasks of `database` in `tasks`, summed per design document (pure). */
export function indexBuildsOf(tasks: readonly IndexerTask[] | 'refused', database: string): IndexBuilds {
  if (tasks === 'refused') return { builds: [], source: 'refused' };
  const designDocs = new Set(
    tasks
      .filter((t) => t.type === 'indexer' && isTaskOfDatabase(t.database, database))
      .map((t) => String(t.design_document)),
  );
  const builds = [...designDocs].sort().map((designDoc) => ({
    designDoc,
    ...indexerProgress(tasks, database, designDoc)!,
  }));
  return { builds, source: builds.length > 0 ? 'active_tasks' : 'none' };
}

/** One line of what `/_active_tasks` says of the builds (pure). */
export function describeIndexBuilds(found: IndexBuilds): string {
  if (found.source === 'refused') return '/_active_tasks, which shows the progress, is for server admins';
  if (found.builds.length === 0) return '/_active_tasks lists no build (yet)';
  return found.builds
    .map(({ designDoc, changesDone, totalChanges }) => {
      const share = totalChanges > 0 ? ` (${Math.floor((100 * changesDone) / totalChanges)}%)` : '';
      return `${designDoc}: ${changesDone} of ${totalChanges} changes indexed${share}`;
    })
    .join('; ');
}

/** `/_active_tasks`, or 'refused' when this user may not read it (admins only on CouchDB). */
export async function readActiveTasks(
  picas: PicasDb,
  signal?: AbortSignal,
): Promise<IndexerTask[] | 'refused'> {
  try {
    const tasks = await picas.server.request({ path: '_active_tasks', signal } as nano.RequestOptions);
    return Array.isArray(tasks) ? (tasks as IndexerTask[]) : [];
  } catch (err) {
    const status = statusOf(err);
    if (status === 401 || status === 403 || status === 404) return 'refused';
    throw err;
  }
}

/** What the server shows of the index builds of this database (`/_active_tasks`). */
export async function readIndexBuilds(picas: PicasDb, signal?: AbortSignal): Promise<IndexBuilds> {
  return indexBuildsOf(await readActiveTasks(picas, signal), picas.name);
}

export interface BuildIndexOptions {
  /** Called about every `pollMs` while the build runs. */
  onProgress?: (progress: IndexProgress) => void;
  pollMs?: number;
  signal?: AbortSignal;
  clock?: () => number;
}

export interface BuiltIndex {
  designDoc: string;
  view: string;
  elapsedMs: number;
  /** Rows in the view once built. */
  rows: number;
  /** Whether `/_active_tasks` ever showed the build (false on the embedded server). */
  progressReported: boolean;
}

/**
 * Builds the index of `_design/<designDoc>` (all its views share one on CouchDB) by reading `view`
 * up to date, and reports progress meanwhile. Returns once the index answers.
 */
export async function buildIndex(
  picas: PicasDb,
  designDoc: string,
  view: string,
  options: BuildIndexOptions = {},
): Promise<BuiltIndex> {
  const clock = options.clock ?? Date.now;
  const started = clock();
  const pollMs = options.pollMs ?? 1000;
  let progressReported = false;
  let refused = false;
  // Aborted once the build has answered: ends the poller's wait at once.
  const answered = new AbortController();
  const poll = async () => {
    for (;;) {
      try {
        await sleep(pollMs, answered.signal);
      } catch {
        return;
      }
      const elapsedMs = clock() - started;
      let tasks: IndexerTask[] | 'refused' = 'refused';
      if (!refused) {
        try {
          tasks = await readActiveTasks(picas, options.signal);
        } catch {
          // Progress is a nicety: a failed look is no reason to stop the build.
          tasks = [];
        }
      }
      if (answered.signal.aborted) return;
      if (tasks === 'refused') {
        refused = true;
        options.onProgress?.({ elapsedMs, source: 'refused' });
        continue;
      }
      const sum = indexerProgress(tasks, picas.name, `_design/${designDoc}`);
      if (sum) progressReported = true;
      options.onProgress?.(
        sum ? { ...sum, elapsedMs, source: 'active_tasks' } : { elapsedMs, source: 'none' },
      );
    }
  };
  const poller = poll();
  try {
    const answer = await fetchView(picas, designDoc, view, { limit: 0 }, options.signal);
    return {
      designDoc,
      view,
      elapsedMs: clock() - started,
      rows: answer.total_rows ?? 0,
      progressReported,
    };
  } finally {
    answered.abort();
    await poller.catch(() => undefined);
  }
}
