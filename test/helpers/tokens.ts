import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BulkSource } from '../../src/picas/bulkUpdate';
import { openPicas, type PicasDb, statusOf } from '../../src/picas/client';
import { settled } from '../../src/picas/protocol';
import type { StoredToken, TokenDoc } from '../../src/picas/tokenDoc';
import { claimDesignDocId, claimViews, designDocId, standardViews } from '../../src/picas/viewDefinitions';
import { adminAuthHeader, type TestDatabase, writeQuorumQuery } from './couch';

/*
 * Test setup for the token view operations, with plain fetch against the real server: the design
 * doc, tokens in a chosen state, and reading back. Independent of the code under test.
 */

export const FIXTURES = join(__dirname, '../fixtures/tokensManage');

export function fixtureText(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

function headers() {
  return { authorization: adminAuthHeader(), 'content-type': 'application/json' };
}

function dbUrl(t: TestDatabase, path: string): string {
  return `${t.baseUrl}/${t.name}/${path}`;
}

export function openTestPicas(t: TestDatabase): PicasDb {
  return openPicas({ url: t.baseUrl, database: t.name, user: t.user, password: t.password });
}

/** `_design/<type>` with the standard views, plus `extra` views, and the claim's design doc. */
export async function putTokenDesignDoc(
  t: TestDatabase,
  type: string,
  extra: Record<string, { map: string; reduce?: string }> = {},
): Promise<void> {
  await putViews(t, designDocId(type), { ...standardViews(type), ...extra });
  await putClaimDesignDoc(t, type);
}

/** `_design/claim:<type>` with the claim's views, as ensureDesignDoc makes it. */
export function putClaimDesignDoc(t: TestDatabase, type: string): Promise<void> {
  return putViews(t, claimDesignDocId(type), claimViews(type));
}

async function putViews(t: TestDatabase, id: string, views: Record<string, unknown>): Promise<void> {
  const body = { _id: id, language: 'javascript', views };
  const res = await fetch(dbUrl(t, id), { method: 'PUT', headers: headers(), body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`PUT ${id}: HTTP ${res.status} ${await res.text()}`);
}

export type TokenState = 'todo' | 'locked' | 'running' | 'done' | 'error' | 'staging';

/** The fields of a token in `state`, as the protocol (docs/protocol.md) leaves it. */
export function stateFields(state: TokenState, at = 1_700_000_000): Record<string, unknown> {
  const lease = {
    id: `lease-${at}`,
    pilot: 'pilot-1',
    host: 'wn-1.example.org',
    expires: at + 900,
    renewed: at,
    attempt: 1,
  };
  switch (state) {
    case 'todo':
      return { lock: 0, done: 0, status: 'todo', hostname: '' };
    case 'staging':
      return { lock: 0, done: 0, status: 'staging', hostname: '' };
    case 'locked':
      return { lock: at, done: 0, status: 'locked', hostname: 'wn-1.example.org', lease };
    case 'running':
      return { lock: at, done: 0, status: 'running', hostname: 'wn-1.example.org', lease };
    case 'done':
      return { lock: at, done: at + 60, status: 'done', hostname: 'wn-1.example.org', output: 0 };
    case 'error':
      return { lock: at, done: at + 60, status: 'error', hostname: 'wn-1.example.org', output: 1 };
  }
}

/** `count` tokens `t_<type>_L345916_SB<nnn>` (from `first`) in `state`, GRID_LRT's fields. */
export function makeTokens(
  type: string,
  count: number,
  state: TokenState,
  extra: Record<string, unknown> = {},
  first = 0,
): StoredToken[] {
  return Array.from({ length: count }, (_, i) => {
    const sb = String(first + i).padStart(3, '0');
    return {
      _id: `t_${type}_L345916_SB${sb}`,
      type,
      scrub_count: 0,
      output: '',
      progress: 0,
      STARTSB: sb,
      ...stateFields(state),
      ...extra,
    } as unknown as StoredToken;
  });
}

/** `_bulk_docs` (new_edits left alone); every row must succeed. */
export async function insertTokens(t: TestDatabase, docs: object[]): Promise<void> {
  for (let i = 0; i < docs.length; i += 1000) {
    const res = await fetch(dbUrl(t, '_bulk_docs'), {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ docs: docs.slice(i, i + 1000) }),
    });
    if (res.status !== 201 && res.status !== 202) throw new Error(`_bulk_docs: HTTP ${res.status}`);
    const rows = (await res.json()) as { id: string; error?: string }[];
    const failed = rows.filter((r) => r.error);
    if (failed.length)
      throw new Error(`_bulk_docs: ${failed.length} rows failed, first ${JSON.stringify(failed[0])}`);
  }
}

export async function readToken(t: TestDatabase, id: string): Promise<StoredToken> {
  const res = await fetch(dbUrl(t, encodeURIComponent(id)), { headers: headers() });
  if (!res.ok) throw new Error(`GET ${id}: HTTP ${res.status}`);
  return (await res.json()) as StoredToken;
}

/** HTTP status of a GET of `id` (404 once deleted). */
export async function docStatus(t: TestDatabase, id: string): Promise<number> {
  const res = await fetch(dbUrl(t, id.startsWith('_design/') ? id : encodeURIComponent(id)), {
    headers: headers(),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Every live document (design docs excluded), by id. */
export async function readAllDocs(t: TestDatabase): Promise<Map<string, StoredToken>> {
  const res = await fetch(dbUrl(t, '_all_docs?include_docs=true'), { headers: headers() });
  if (!res.ok) throw new Error(`_all_docs: HTTP ${res.status}`);
  const body = (await res.json()) as { rows: { id: string; doc: StoredToken }[] };
  return new Map(body.rows.filter((r) => !r.id.startsWith('_design/')).map((r) => [r.id, r.doc]));
}

export async function viewRowIds(t: TestDatabase, type: string, view: string): Promise<string[]> {
  const res = await fetch(dbUrl(t, `${designDocId(type)}/_view/${view}`), { headers: headers() });
  if (!res.ok) throw new Error(`view ${view}: HTTP ${res.status}`);
  const body = (await res.json()) as { rows: { id: string }[] };
  return body.rows.map((r) => r.id);
}

/** Another party's read-modify-write with the `_rev` it read, retrying its own 409s. */
export async function writeFields(
  t: TestDatabase,
  id: string,
  fields: Record<string, unknown>,
): Promise<void> {
  for (;;) {
    const doc = await readToken(t, id);
    const res = await fetch(`${dbUrl(t, encodeURIComponent(id))}${writeQuorumQuery()}`, {
      method: 'PUT',
      headers: headers(),
      body: JSON.stringify({ ...doc, ...fields }),
    });
    if (await writeCounts(t, id, res)) return;
  }
}

/**
 * Whether another party's PUT of `id` counts: a 201 or 202 that, on a cluster, won its settlement
 * (docs/protocol.md, Cluster rules); false for a 409 or a lost settlement (read again and retry).
 */
export async function writeCounts(t: TestDatabase, id: string, res: Response): Promise<boolean> {
  const body = (await res.json().catch(() => ({}))) as { rev?: string };
  if (res.status === 409) return false;
  if (res.status !== 201 && res.status !== 202) throw new Error(`PUT ${id}: HTTP ${res.status}`);
  return settled(openTestPicas(t), id, { rev: body.rev!, uncertain: res.status === 202 }).then(
    () => true,
    (err: unknown) => {
      if (statusOf(err) !== 409) throw err;
      return false;
    },
  );
}

export function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** The real source, with `between` run after each read and before the engine writes. */
export function interleaved(
  source: BulkSource,
  between: {
    afterPage?: (docs: TokenDoc[]) => Promise<void>;
    afterReread?: (docs: TokenDoc[]) => Promise<void>;
  },
): BulkSource {
  return {
    label: source.label,
    async *pages() {
      for await (const page of source.pages()) {
        await between.afterPage?.(page.docs);
        yield page;
      }
    },
    async reread(list) {
      const docs = await source.reread(list);
      await between.afterReread?.(docs);
      return docs;
    },
  };
}
