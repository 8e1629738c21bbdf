import { openPicas, type PicasDb } from '../../src/picas/client';
import type { StoredToken } from '../../src/picas/tokenDoc';
import { designDocId, standardViews, type ViewSource } from '../../src/picas/viewDefinitions';
import { adminAuthHeader, type TestDatabase, writeQuorumQuery } from './couch';
import { putClaimDesignDoc, writeCounts } from './tokens';

/*
 * Test-side access to a token database with plain fetch, independent of the code under test:
 * seeding tokens, design documents, and reading back what was written.
 */

function headers() {
  return { authorization: adminAuthHeader(), 'content-type': 'application/json' };
}

function docUrl(t: TestDatabase, id: string): string {
  return `${t.baseUrl}/${t.name}/${id.startsWith('_design/') ? id : encodeURIComponent(id)}`;
}

export function picasFor(t: TestDatabase): PicasDb {
  return openPicas({ url: t.baseUrl, database: t.name, user: t.user, password: t.password });
}

/**
 * `_design/<type>` with the views grid-lrt defines and the claim's `_design/claim:<type>`, as
 * ensureDesignDoc makes them; or `_design/<type>` with only `views` when given (the claim's design
 * document then missing, as with views made by an older tool).
 */
export async function putDesignDoc(
  t: TestDatabase,
  type: string,
  views?: Record<string, ViewSource>,
): Promise<void> {
  const res = await fetch(docUrl(t, designDocId(type)), {
    method: 'PUT',
    headers: headers(),
    body: JSON.stringify({
      _id: designDocId(type),
      language: 'javascript',
      views: views ?? standardViews(type),
    }),
  });
  if (!res.ok) throw new Error(`design doc for ${type}: HTTP ${res.status} ${await res.text()}`);
  if (!views) await putClaimDesignDoc(t, type);
}

/** Free tokens as GRID_LRT creates them (the seed notebook's documents), one per subband. */
export function tokenDocs(type: string, count: number, extra: Record<string, unknown> = {}): StoredToken[] {
  return Array.from({ length: count }, (_, i) => {
    const sb = String(i).padStart(3, '0');
    return {
      _id: `t_${type}_L345916_SB${sb}`,
      type,
      lock: 0,
      done: 0,
      status: 'todo',
      hostname: '',
      scrub_count: 0,
      output: '',
      progress: 0,
      start_SB: sb,
      ...extra,
    };
  });
}

/** `_bulk_docs`; every row must be written. Returns the new revs by id. */
export async function bulkDocs(
  t: TestDatabase,
  docs: object[],
  newEdits = true,
): Promise<Map<string, string>> {
  const res = await fetch(`${t.baseUrl}/${t.name}/_bulk_docs`, {
    method: 'POST',
    headers: headers(),
    body: JSON.stringify({ docs, new_edits: newEdits }),
  });
  if (res.status !== 201 && res.status !== 202)
    throw new Error(`_bulk_docs: HTTP ${res.status} ${await res.text()}`);
  const rows = (await res.json()) as { id: string; rev?: string; error?: string }[];
  const failed = rows.filter((r) => r.error);
  if (failed.length)
    throw new Error(`_bulk_docs: ${failed.length} rows failed: ${JSON.stringify(failed[0])}`);
  return new Map(rows.map((r) => [r.id, r.rev ?? '']));
}

export async function seedTokens(
  t: TestDatabase,
  type: string,
  count: number,
  extra?: Record<string, unknown>,
) {
  const docs = tokenDocs(type, count, extra);
  await bulkDocs(t, docs);
  return docs.map((d) => d._id);
}

export async function getDoc(t: TestDatabase, id: string, query = ''): Promise<StoredToken> {
  const res = await fetch(`${docUrl(t, id)}${query}`, { headers: headers() });
  if (!res.ok) throw new Error(`GET ${id}: HTTP ${res.status}`);
  return (await res.json()) as StoredToken;
}

/** PUT as another party would (a login-side reset, a second writer); returns the HTTP status. */
export async function putDoc(
  t: TestDatabase,
  doc: { _id: string; [field: string]: unknown },
): Promise<number> {
  const res = await fetch(docUrl(t, doc._id), {
    method: 'PUT',
    headers: headers(),
    body: JSON.stringify(doc),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Read-modify-write by another party, retrying its own 409s. */
export async function updateDoc(
  t: TestDatabase,
  id: string,
  change: (doc: StoredToken) => object,
): Promise<void> {
  for (;;) {
    const doc = await getDoc(t, id);
    const res = await fetch(`${docUrl(t, id)}${writeQuorumQuery()}`, {
      method: 'PUT',
      headers: headers(),
      body: JSON.stringify({ ...doc, ...change(doc), _id: id, _rev: doc._rev }),
    });
    if (await writeCounts(t, id, res)) return;
  }
}

export async function viewIds(t: TestDatabase, type: string, view: string, query = ''): Promise<string[]> {
  const res = await fetch(`${t.baseUrl}/${t.name}/_design/${type}/_view/${view}${query}`, {
    headers: headers(),
  });
  if (!res.ok) throw new Error(`view ${view}: HTTP ${res.status}`);
  const body = (await res.json()) as { rows: { id: string }[] };
  return body.rows.map((r) => r.id);
}

/** Deterministic [0, 1) numbers (mulberry32), one stream per seed. */
export function seededRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
