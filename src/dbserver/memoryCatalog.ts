/*
 * `_all_dbs` for an in-memory server with a name space of its own (the cluster stand-in's nodes).
 * What express-pouchdb installs otherwise, pouchdb-all-dbs, listens to pouchdb-core's event
 * emitter, and there is one for the whole process: every server would list, and refuse to create
 * (412), the databases any other server in the process created. This catalog counts only the
 * databases opened through this server's own constructor.
 */

interface CatalogedDatabase {
  name: string;
  constructor: unknown;
  /** Set on the handle whose destroy() ran; handles that only hear of it by name are not. */
  _destroyed?: boolean;
  on(event: 'destroyed', listener: () => void): void;
}

interface PouchEvents {
  on(event: 'ref', listener: (db: CatalogedDatabase) => void): void;
  removeListener(event: 'ref', listener: (db: CatalogedDatabase) => void): void;
}

type AllDbs = (callback?: (err: null, names: string[]) => void) => Promise<string[]>;

/** Gives `Pouch` its own `allDbs` (before express-pouchdb looks for one); returns the uninstaller. */
export function installMemoryCatalog(PouchDB: PouchEvents, Pouch: { allDbs?: AllDbs }): () => void {
  const names = new Set<string>();
  // pouchdb-core emits 'ref' for every handle once it is open; opening creates the database.
  const onRef = (db: CatalogedDatabase) => {
    // Views keep their indexes in dependent databases: not listed, as pouchdb-all-dbs does.
    if (db.constructor !== Pouch || db.name.includes('-mrview-')) return;
    names.add(db.name);
    // pouchdb-core relays a destroy to every handle of that name, this server's or another's.
    db.on('destroyed', () => {
      if (db._destroyed) names.delete(db.name);
    });
  };
  PouchDB.on('ref', onRef);
  Pouch.allDbs = (callback) => {
    const list = [...names].sort();
    callback?.(null, list);
    return Promise.resolve(list);
  };
  return () => PouchDB.removeListener('ref', onRef);
}
