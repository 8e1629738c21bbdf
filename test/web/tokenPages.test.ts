import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPicas } from '../../src/picas/client';
import { type StatusServer, startStatusServer } from '../../src/web';
import { type HttpFaultProxy, startHttpFaultProxy } from '../chaos/support/httpFaultProxy';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import { runningToken, seedStatusTokens, todoToken } from '../helpers/statusSeed';

/*
 * /api/tokens pages by key: `next` and `previous` are cursors, and a page read from a cursor starts
 * at its key (no `skip`), so a deep page asks the server for as many rows as the first. A proxy
 * in front of the database records what the status server asks for.
 */

const T = 'pages';
const TODO = 230;
const RUNNING = 30;
const LIMIT = 20;
const id = (prefix: string, i: number) => `t_${T}_${prefix}${String(i).padStart(4, '0')}`;

interface Page {
  rows: { id: string; state: string }[];
  total: number;
  next: string | null;
  previous: string | null;
}

describe('/api/tokens pages by key', () => {
  let t: TestDatabase;
  let proxy: HttpFaultProxy;
  let server: StatusServer;
  const asked: string[] = [];
  beforeAll(async () => {
    t = await createTestDatabase('lrt_web_pages');
    const docs = [
      ...Array.from({ length: TODO }, (_, i) => todoToken(T, id('a', i))),
      ...Array.from({ length: RUNNING }, (_, i) =>
        runningToken(T, id('r', i), { claimed: 1_000, expires: 9_999_999_999 }),
      ),
    ];
    await seedStatusTokens(t, T, docs);
    proxy = await startHttpFaultProxy(t.baseUrl, () => undefined, {
      onReply: (req) => {
        if (req.url?.includes('_view/') || req.url?.includes('_all_docs')) asked.push(req.url);
      },
    });
    const picas = openPicas({
      url: proxy.via(t.baseUrl),
      database: t.name,
      user: t.user,
      password: t.password,
    });
    server = await startStatusServer({ picas, type: T });
  });
  afterAll(async () => {
    await server?.close();
    await proxy?.close();
    await t?.drop();
  });

  async function page(query: string): Promise<Page> {
    const res = await fetch(`${server.url}api/tokens?limit=${LIMIT}${query}`);
    expect(res.status).toBe(200);
    return (await res.json()) as Page;
  }

  /** Every page forward from the first, then back again: each token once, in the same order. */
  async function walk(state: string): Promise<{ forward: string[]; pages: Page[] }> {
    const filter = state ? `&state=${state}` : '';
    const pages = [await page(filter)];
    while (pages.at(-1)!.next) pages.push(await page(`${filter}&after=${pages.at(-1)!.next}`));
    const back = [pages.at(-1)!];
    while (back.at(-1)!.previous) back.push(await page(`${filter}&before=${back.at(-1)!.previous}`));
    expect(back.length).toBe(pages.length);
    expect(back.reverse().map((p) => p.rows.map((r) => r.id))).toEqual(
      pages.map((p) => p.rows.map((r) => r.id)),
    );
    return { forward: pages.flatMap((p) => p.rows.map((r) => r.id)), pages };
  }

  it.each([
    ['', TODO + RUNNING],
    ['todo', TODO],
    ['running', RUNNING],
  ])('state "%s": every token once, forward and back', async (state, count) => {
    const { forward, pages } = await walk(state);
    expect(forward).toHaveLength(count);
    expect(new Set(forward).size).toBe(count);
    expect(pages[0]!.total).toBe(count);
    expect(pages[0]!.previous).toBeNull();
    expect(pages.at(-1)!.next).toBeNull();
    if (state) expect(pages.flatMap((p) => p.rows.map((r) => r.state)).every((s) => s === state)).toBe(true);
  });

  it('a deep page asks for as many rows as the first, from its key, never with skip', async () => {
    const first = await page('&state=todo');
    let deep = first;
    for (let i = 0; i < 8; i++) deep = await page(`&state=todo&after=${deep.next}`);
    asked.length = 0;
    await page('&state=todo');
    const firstAsks = [...asked];
    asked.length = 0;
    const again = await page(`&state=todo&after=${deep.next}`);
    const deepAsks = [...asked];
    expect(again.rows[0]!.id).toBe(id('a', 9 * LIMIT));
    const limits = (urls: string[]) => urls.map((u) => new URL(u, 'http://x').searchParams.get('limit'));
    expect(deepAsks.some((u) => u.includes('skip='))).toBe(false);
    expect(limits(deepAsks)).toEqual(limits(firstAsks));
    expect(deepAsks.some((u) => new URL(u, 'http://x').searchParams.has('startkey'))).toBe(true);
  });

  it('refuses a cursor it did not make', async () => {
    const res = await fetch(`${server.url}api/tokens?after=not-a-cursor`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('E_USAGE');
  });

  it('refuses a limit it would not honour (0, above a page, not a number) instead of clamping it', async () => {
    for (const limit of ['0', '501', 'ten']) {
      const res = await fetch(`${server.url}api/tokens?limit=${limit}`);
      expect(res.status, limit).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
        `limit must be a whole number from 1 to 500, got ${limit}`,
      );
    }
    expect((await fetch(`${server.url}api/tokens?limit=500`)).status).toBe(200);
  });
});
