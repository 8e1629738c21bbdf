import type { EmbeddedCouch, LocalDatabase, LocalReplication } from '../embedded';

/**
 * How long stop() waits for a cancelled replication to end. One whose database was destroyed
 * beneath it never ends (see remove()); it holds no timer or socket, so it is left behind.
 */
const STOP_WAIT_MS = 2000;

/**
 * Continuous PouchDB replication of each clustered database between every pair of nodes, in both
 * directions: the stand-in for CouchDB's internal replication, which makes every replica converge
 * (and turns revisions accepted on different replicas into a stored conflict).
 */
export class ReplicationMesh {
  /** Each database's handle on every node, in node order. */
  private readonly handles = new Map<string, LocalDatabase[]>();
  private readonly running = new Map<string, LocalReplication[]>();
  /** Databases a DELETE is under way for (how many DELETEs): nothing restarts their replication. */
  private readonly deleting = new Map<string, number>();
  private paused = false;

  constructor(private readonly nodes: EmbeddedCouch[]) {}

  /** Replicates `db` from now on (it exists on the nodes); a database already replicated is left as is. */
  add(db: string): void {
    if (!this.handles.has(db))
      this.handles.set(
        db,
        this.nodes.map((node) => node.openDatabase(db)),
      );
    if (!this.paused) this.start(db);
  }

  /**
   * Deletes `db` through `deleteEverywhere` with its replication stopped first, while every copy
   * still exists, and forgets it when `isDeleted` says a node deleted it (else replication
   * restarts, from its checkpoints).
   *
   * The order matters. A memory database destroyed through one handle leaves every other handle of
   * that store with operations that never call back (pouchdb-adapter-memory 7), and PouchDB ends a
   * replication cancelled during a checkpoint write only once that write is done: a replication
   * still busy when its copies went would never end, and the DELETE waiting for it never answer.
   */
  async remove<T>(
    db: string,
    deleteEverywhere: () => Promise<T>,
    isDeleted: (result: T) => boolean,
  ): Promise<T> {
    this.deleting.set(db, (this.deleting.get(db) ?? 0) + 1);
    let deleted = false;
    try {
      await this.stop(db);
      const result = await deleteEverywhere();
      deleted = isDeleted(result);
      return result;
    } finally {
      const left = (this.deleting.get(db) ?? 1) - 1;
      if (left > 0) this.deleting.set(db, left);
      else this.deleting.delete(db);
      // The handles of a deleted copy are dead; one still on some node is no longer replicated.
      if (deleted) this.handles.delete(db);
      else if (!this.paused) this.start(db);
    }
  }

  /** Stops all replication (writes stay on the replica they reached) until resume(). */
  async pause(): Promise<void> {
    this.paused = true;
    await Promise.all([...this.running.keys()].map((db) => this.stop(db)));
  }

  /** Restarts replication; each one carries on from its checkpoint. */
  resume(): void {
    this.paused = false;
    for (const db of this.handles.keys()) this.start(db);
  }

  async close(): Promise<void> {
    await this.pause();
    this.handles.clear();
  }

  private start(db: string): void {
    const handles = this.handles.get(db);
    if (!handles || this.running.has(db) || this.deleting.has(db)) return;
    const replications = handles.flatMap((source, i) =>
      handles
        .filter((_, j) => j !== i)
        .map((target) =>
          source.replicate.to(target, {
            live: true,
            retry: true,
            // PouchDB's default backs off up to 10 minutes after an error: a replica would lag
            // that long, and a cancelled replication would hold the process open as long.
            back_off_function: (previousMs) => Math.min(Math.max(previousMs * 2, 50), 1000),
          }),
        ),
    );
    this.running.set(db, replications);
  }

  /** Cancels `db`'s replications and waits for them to end (a batch under way finishes first). */
  private async stop(db: string): Promise<void> {
    const replications = this.running.get(db) ?? [];
    this.running.delete(db);
    for (const replication of replications) replication.cancel();
    const ended = Promise.all(
      replications.map((replication) => Promise.resolve(replication).catch(() => undefined)),
    );
    let timer: NodeJS.Timeout | undefined;
    const givenUp = new Promise<void>((done) => {
      timer = setTimeout(done, STOP_WAIT_MS);
    });
    await Promise.race([ended, givenUp]);
    clearTimeout(timer);
  }
}
