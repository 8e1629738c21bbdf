import { bulkCreateTokens } from '../../../src/picas/bulkCreate';
import { openPicas, type PicasDb } from '../../../src/picas/client';
import { ensureDatabase, ensureDesignDoc } from '../../../src/picas/designDocStore';
import { logAttachmentName } from '../../../src/picas/logNames';
import { tokenFromDoc } from '../../../src/picas/tokenDoc';
import type { NewToken } from '../../../src/picas/tokens';
import type { FinalToken } from './invariants';

export const ADMIN = 'admin';

/** The database as admin, straight to the server (not through the chaos proxy). */
export function openDirect(port: number, database: string, password: string): PicasDb {
  return openPicas({ url: `http://127.0.0.1:${port}`, database, user: ADMIN, password });
}

/** Database with an explicit admin and `_security` (as on CouchDB 3.x), the views, and the tokens. */
export async function seedChaosDatabase(picas: PicasDb, type: string, tokens: NewToken[]): Promise<void> {
  await ensureDatabase(picas);
  const auth = `Basic ${Buffer.from(`${picas.settings.user}:${picas.settings.password}`).toString('base64')}`;
  const res = await fetch(`${picas.settings.url}/${picas.name}/_security`, {
    method: 'PUT',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: JSON.stringify({
      admins: { names: [ADMIN], roles: [] },
      members: { names: [ADMIN], roles: [] },
    }),
  });
  if (!res.ok) throw new Error(`_security: HTTP ${res.status}`);
  await ensureDesignDoc(picas, type);
  const report = await bulkCreateTokens(picas, type, tokens);
  if (report.failed.length > 0) throw new Error(`seeding failed: ${JSON.stringify(report.failed[0])}`);
}

/** Token counts per state from the `overview_total` view. */
export async function overview(picas: PicasDb, type: string): Promise<Record<string, number>> {
  const res = (await picas.db.view(type, 'overview_total', { group: true })) as {
    rows: { key: string; value: number }[];
  };
  return Object.fromEntries(res.rows.map((r) => [r.key, r.value]));
}

export async function viewCount(picas: PicasDb, type: string, view: string): Promise<number> {
  const res = await picas.db.view(type, view, { limit: 0 });
  return res.total_rows;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

/** Every token with the stdout log of the attempt that finished it (when there is one). */
export async function readFinalTokens(picas: PicasDb, ids: string[]): Promise<FinalToken[]> {
  const all = await picas.db.fetch({ keys: ids });
  const docs = all.rows.flatMap((r) => ('doc' in r && r.doc ? [tokenFromDoc(r.doc)] : []));
  return mapLimit(docs, 8, async (doc) => {
    const attempts = Array.isArray(doc.attempts) ? doc.attempts : [];
    const last = attempts.at(-1);
    const name = last ? logAttachmentName(last.n, 'stdout') : undefined;
    let committedStdout: string | undefined;
    if (name && doc._attachments?.[name]) {
      committedStdout = (await picas.db.attachment.get(doc._id, name)).toString('utf8');
    }
    return { doc, committedStdout };
  });
}
