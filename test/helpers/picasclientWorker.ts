import { setTimeout as sleep } from 'node:timers/promises';
import { type CouchdbPythonDatabase, PyHttpError } from './pythonClients';

/*
 * A worker that sends exactly picasclient 1.1's requests (over couchdb-python, pythonClients.ts):
 * - claim (`iterators._claim_task`, up to 10 tries): GET the view with `limit=100`, pick a random
 *   row, GET the document, set `lock=<epoch s>` and `hostname` (`Task.lock`), PUT it with the
 *   `_rev` read. No check that the token is free: a token another worker holds, or even a finished
 *   one, is locked again if the view still listed it when it was read. A 409 is another try.
 * - close (`BasicTokenModifier.close` after the example's `token['exit_code'] = ...`): `done=<epoch
 *   s>`, `exit_code`; saved by `RunActor._run`, which on 409 takes the current `_rev` and PUTs its
 *   own copy again ("model results are more important").
 */

export interface PicasWrite {
  id: string;
  rev: string;
  kind: 'lock' | 'close';
  hostname: string;
}

export interface PicasWorkerOptions {
  db: CouchdbPythonDatabase;
  /** `design_doc` of the actor (picasclient's default is `Monitor`). */
  designDoc: string;
  view?: string;
  /** What `socket.gethostname()` returns on the worker's node. */
  hostname: string;
  /** Seconds the payload runs. */
  workSeconds: number;
  exitCode?: number;
  /**
   * Time between the view read and the GET of the chosen row: the real client has the same gap
   * (a round trip, more on a loaded server); a longer one shows the race it leaves open more often.
   */
  pauseBeforeGetMs?: number;
  /** Called in that gap with the chosen id, after the pause (a link that is slow just then). */
  beforeGet?: (id: string) => Promise<void>;
  /** Every write that succeeded, in order. */
  writes: PicasWrite[];
}

const ALLOWED_FAILURES = 10;

const seconds = () => Math.floor(Date.now() / 1000);

/** `_claim_task`: the locked document, or undefined when the view was empty (IndexError). */
export async function picasClaim(o: PicasWorkerOptions): Promise<Record<string, unknown> | undefined> {
  for (let i = 0; i < ALLOWED_FAILURES; i++) {
    const page = await o.db.view(`${o.designDoc}/${o.view ?? 'todo'}`, { limit: 100 });
    if (page.rows.length === 0) return undefined;
    const row = page.rows[Math.floor(Math.random() * page.rows.length)]!;
    if (o.pauseBeforeGetMs) await sleep(o.pauseBeforeGetMs);
    await o.beforeGet?.(row.id);
    const doc = await o.db.get(row.id);
    if (!doc) continue; // get_from_view skips a deleted document: ValueError
    doc.lock = seconds();
    doc.hostname = o.hostname;
    try {
      const { rev } = await o.db.save(doc);
      o.writes.push({ id: row.id, rev: rev!, kind: 'lock', hostname: o.hostname });
      return doc;
    } catch (err) {
      if (err instanceof PyHttpError && err.reply.status === 409) continue; // ResourceConflict
      throw err;
    }
  }
  throw new Error('Unable to claim task.');
}

/** `RunActor._run` after the example's process_task: exit_code and done set, saved over conflicts. */
export async function picasClose(o: PicasWorkerOptions, doc: Record<string, unknown>): Promise<void> {
  doc.exit_code = o.exitCode ?? 0;
  doc.done = seconds();
  for (;;) {
    try {
      const { rev } = await o.db.save(doc);
      o.writes.push({ id: String(doc._id), rev: rev!, kind: 'close', hostname: o.hostname });
      return;
    } catch (err) {
      if (!(err instanceof PyHttpError && err.reply.status === 409)) throw err;
      const current = await o.db.get(String(doc._id));
      doc._rev = current?._rev;
    }
  }
}

/** `RunActor.run` with a TaskViewIterator: claim, work, close, until the view is empty. */
export async function runPicasWorker(o: PicasWorkerOptions): Promise<number> {
  let processed = 0;
  for (;;) {
    const doc = await picasClaim(o);
    if (!doc) return processed;
    await sleep(o.workSeconds * 1000);
    await picasClose(o, doc);
    processed++;
  }
}
