import type { BulkSource, SourcePage } from './bulkUpdate';
import { couchError, type PicasDb } from './client';
import { type StoredToken, type TokenDoc, tokenFromDoc } from './tokenDoc';
import { assertTokenType } from './viewDefinitions';
import { DEFAULT_PAGE_SIZE, rereadThroughView, resolveView, viewPages } from './viewQuery';
import { rowTokens } from './viewRead';

export interface SourceOptions {
  /** Tokens per page and per `_bulk_docs` request (default 500). */
  pageSize?: number;
}

/**
 * The tokens of a view. A token that came back 409 is re-read through the same view by the key
 * it had, so one that left the view meanwhile (another reset got there first) is skipped: the
 * server decides membership, no view code runs here.
 */
export async function viewSource(
  picas: PicasDb,
  type: string,
  view: string,
  options: SourceOptions = {},
): Promise<BulkSource> {
  const resolved = await resolveView(picas, type, view);
  let keysById = new Map<string, unknown>();
  return {
    label: `view ${view} of _design/${resolved.designDoc}`,
    async *pages(): AsyncGenerator<SourcePage> {
      for await (const page of viewPages(picas, resolved, {
        pageSize: options.pageSize,
        includeDocs: true,
      })) {
        keysById = new Map(page.rows.map((row) => [row.id, row.key]));
        // A row whose doc is gone (deleted while we paged) has nothing to change.
        yield { docs: rowTokens(page.rows), total: page.totalRows };
      }
    },
    reread: (ids) => rereadThroughView(picas, resolved, keysById, ids),
  };
}

interface AllDocsRow {
  id?: string;
  key: string;
  doc?: StoredToken | null;
}

/** The tokens of `type` among the rows; design documents and deleted ones left out. */
function tokensOfType(type: string, rows: AllDocsRow[]): TokenDoc[] {
  return rows.flatMap((row) =>
    row.doc && row.doc.type === type && !row.key.startsWith('_design/') ? [tokenFromDoc(row.doc)] : [],
  );
}

/**
 * Every token of a type found through `_all_docs` (paged by id), without any view: views may
 * have been cleared or never made, and purge must still find the tokens.
 */
export function typeSource(picas: PicasDb, type: string, options: SourceOptions = {}): BulkSource {
  assertTokenType(type);
  const pageSize = Math.max(1, options.pageSize ?? DEFAULT_PAGE_SIZE);
  const read = async (params: Record<string, unknown>, keys?: string[]) => {
    try {
      const answer = keys ? await picas.db.fetch({ keys }, params) : await picas.db.list(params);
      return answer as unknown as { total_rows?: number; rows: AllDocsRow[] };
    } catch (err) {
      throw couchError(picas, `list the documents of ${picas.name}`, err);
    }
  };
  return {
    label: `type ${type}`,
    async *pages(): AsyncGenerator<SourcePage> {
      let startkey: string | undefined;
      for (;;) {
        // From the second page on, the first row is the last one seen (startkey is inclusive).
        const ask = startkey === undefined ? pageSize : pageSize + 1;
        const params: Record<string, unknown> = { include_docs: true, limit: ask };
        if (startkey !== undefined) params.startkey = startkey;
        const answer = await read(params);
        const rows = answer.rows.filter((row) => row.key !== startkey);
        yield {
          docs: tokensOfType(type, rows),
          total: answer.total_rows ?? 0,
        };
        const last = answer.rows.at(-1);
        if (answer.rows.length < ask || !last) return;
        startkey = last.key;
      }
    },
    async reread(ids) {
      if (ids.length === 0) return [];
      const answer = await read({}, ids);
      return tokensOfType(type, answer.rows);
    },
  };
}

/**
 * The tokens of `type` named by `ids`, read by key through `_all_docs` a page at a time. Ids that
 * name nothing, a deleted document or a document of another type end up in `missing`.
 */
export function idsSource(
  picas: PicasDb,
  type: string,
  ids: readonly string[],
  options: SourceOptions = {},
): BulkSource & { missing: string[] } {
  assertTokenType(type);
  const pageSize = Math.max(1, options.pageSize ?? DEFAULT_PAGE_SIZE);
  const unique = [...new Set(ids)];
  const missing: string[] = [];
  const read = async (keys: string[]) => {
    try {
      const answer = await picas.db.fetch({ keys }, { include_docs: true });
      return answer.rows as unknown as AllDocsRow[];
    } catch (err) {
      throw couchError(picas, `read tokens of ${picas.name}`, err);
    }
  };
  return {
    label: `${unique.length} token id(s)`,
    missing,
    async *pages(): AsyncGenerator<SourcePage> {
      for (let at = 0; at < unique.length; at += pageSize) {
        const keys = unique.slice(at, at + pageSize);
        const rows = await read(keys);
        const docs = tokensOfType(type, rows);
        const foundIds = new Set(docs.map((doc) => doc._id));
        missing.push(...keys.filter((id) => !foundIds.has(id)));
        yield { docs, total: unique.length };
      }
    },
    async reread(rereadIds) {
      if (rereadIds.length === 0) return [];
      return tokensOfType(type, await read(rereadIds));
    },
  };
}
