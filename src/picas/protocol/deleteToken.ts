import type { TokenDoc } from '../tokenDoc';
import type { Deleted } from './leaseRecord';

/* Transition any -> deleted, from the login side (docs/protocol.md, Delete). */

/** A deletion: the tombstone `_bulk_docs` takes, guarded by the `_rev` read. */
export function deletePatch(doc: TokenDoc): Deleted {
  return { doc: { _id: doc._id, _rev: doc._rev, _deleted: true } };
}
