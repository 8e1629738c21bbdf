/*
 * Which coordinator path a request takes. Only writes (sent to every replica), database
 * information and plain document reads (merged across replicas) are the coordinator's own work;
 * everything else goes to the listener's home node as it is.
 */

export type Route =
  | { kind: 'database-create' | 'database-delete' | 'database-info' | 'database-wide-write'; db: string }
  | { kind: 'document-create' }
  | { kind: 'bulk-docs' }
  | { kind: 'document-write' }
  | { kind: 'document-read'; docPath: string }
  | { kind: 'membership' }
  | { kind: 'home-node' };

const HOME_NODE: Route = { kind: 'home-node' };

/**
 * Query parameters a merged read handles itself (open_revs only as `all`); any other one sends the
 * read to the home node.
 */
const MERGED_READ_PARAMETERS = new Set(['r', 'conflicts', 'revs', 'rev', 'open_revs']);

/** `path` is the request path, still percent-encoded; a document id's '/' is `%2F` there. */
export function routeOf(method: string, path: string, query: URLSearchParams): Route {
  const segments = path.split('/').slice(1);
  if (segments.at(-1) === '') segments.pop();
  const [first, second] = segments;
  if (first === undefined) return HOME_NODE;
  if (first.startsWith('_'))
    return first === '_membership' && method === 'GET' ? { kind: 'membership' } : HOME_NODE;

  const db = decodeURIComponent(first);
  if (second === undefined) {
    const kind = DATABASE_METHODS[method];
    if (kind === 'document-create') return { kind };
    return kind ? { kind, db } : HOME_NODE;
  }
  if (segments.length <= 3 && isDatabaseWideWrite(method, second)) return { kind: 'database-wide-write', db };
  if (second === '_bulk_docs') return method === 'POST' ? { kind: 'bulk-docs' } : HOME_NODE;

  // _design/x and _local/x are ids of two segments; what follows the id names an attachment.
  const idLength = second === '_design' || second === '_local' ? 2 : 1;
  if (second.startsWith('_') && idLength === 1) return HOME_NODE; // _all_docs, _changes, _find...
  const afterId = segments.slice(1 + idLength);
  if (segments.length < 1 + idLength || afterId[0]?.startsWith('_')) return HOME_NODE; // view queries
  if (method === 'PUT' || method === 'DELETE') return { kind: 'document-write' };

  const isPlainRead = [...query.keys()].every(
    (name) =>
      MERGED_READ_PARAMETERS.has(name) ||
      // A given revision is read whole from a replica that holds it, attachment bodies included.
      (name === 'attachments' && query.has('rev')),
  );
  const mergeable = isPlainRead && (!query.has('open_revs') || query.get('open_revs') === 'all');
  // _local documents do not replicate and have no revision tree to merge.
  if (method === 'GET' && afterId.length === 0 && second !== '_local' && mergeable) {
    return { kind: 'document-read', docPath: path };
  }
  return HOME_NODE;
}

const DATABASE_METHODS: Record<
  string,
  'database-create' | 'database-delete' | 'database-info' | 'document-create' | undefined
> = {
  PUT: 'database-create',
  DELETE: 'database-delete',
  GET: 'database-info',
  POST: 'document-create',
};

function isDatabaseWideWrite(method: string, endpoint: string): boolean {
  if (method === 'PUT') return endpoint === '_security' || endpoint === '_revs_limit';
  return method === 'POST' && (endpoint === '_compact' || endpoint === '_view_cleanup');
}
