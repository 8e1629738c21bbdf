import type { EmbeddedCouch, LocalDatabase, LocalReplication } from '../embedded';

/**
 * Continuous PouchDB replication of each clustered database between every pair of nodes, in both
 * directions: the stand-in for CouchDB's internal replication, which makes every replica converge
 * (and turns revisions accepted on different replicas into a stored conflict).
 */
export class ReplicationMesh {
  /** Each database's handle on every node, in node order. */
  private readonly handles = new Map<string, LocalDatabase[]>();
  private readonly running = new Map<string, LocalReplication[]>();
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

  /** Stops replicating `db`, before it is deleted: its handles die with it. */
  async remove(db: string): Promise<void> {
    await this.stop(db);
    this.handles.delete(db);
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
    if (!handles || this.running.has(db)) return;
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

  private async stop(db: string): Promise<void> {
    const replications = this.running.get(db) ?? [];
    this.running.delete(db);
    for (const replication of replications) replication.cancel();
    await Promise.all(replications.map((replication) => Promise.resolve(replication).catch(() => undefined)));
  }
}
