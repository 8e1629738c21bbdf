/**
 * A page deep inside one view key: N tokens all in state `staging` (one key of `overview_total`,
 * N rows), read through the token table of `lrt serve` (readTokenPage, what `/api/tokens?state=`
 * runs: pages by key and doc id, `startkey_docid`). Times the first page and the page after the
 * token at N/2 (each warm: read once before, so the index is built), and checks that the deep
 * page starts right after that token; then walks the whole key with viewPages (`lrt tokens list`,
 * bulk updates, `lrt stage release` walk so).
 *
 *   npx tsx bench/keyPage.ts [--tokens 100000] [--server URL]
 *
 * Without --server: the embedded server in a child process (needs npm run build), in memory.
 */
import { parseArgs } from 'node:util';
import type nano from 'nano';
import { encodeCursor, readTokenPage } from '../src/monitor/tokens';
import { ensureDesignDoc } from '../src/picas/designDocStore';
import { claimDesignDocName, SPREAD_VIEW } from '../src/picas/viewDefinitions';
import { type ResolvedView, viewPages } from '../src/picas/viewQuery';
import { benchErrorText, openBenchServer, serverHelp, serverUrlFrom } from './helpers/benchServer';
import { benchTokens, picasAt } from './helpers/claimDb';

const TYPE = 'keypage';
const PAGE = 50;
const BATCH = 5000;
const WALK_PAGE = 500;

const USAGE = `usage: npx tsx bench/keyPage.ts [options]

The first page and a page at N/2 of N tokens that share one view key (state staging), through
the token table of lrt serve.

--tokens N         tokens (100000)
${serverHelp(19)}
-h, --help         this text`;

const { values } = parseArgs({
  options: {
    help: { type: 'boolean', short: 'h' },
    server: { type: 'string' },
    tokens: { type: 'string', default: '100000' },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const COUNT = Number(values.tokens.replace(/_/g, ''));
if (!Number.isInteger(COUNT) || COUNT < 2)
  throw new Error(`--tokens: a whole number > 1, got ${values.tokens}`);

async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, value };
}

async function main(): Promise<void> {
  const server = await openBenchServer(serverUrlFrom(values.server));
  try {
    const name = server.databaseName('keypage');
    const picas = picasAt(server.url, name);
    await picas.server.db.create(name);
    await ensureDesignDoc(picas, TYPE);
    const tokens = benchTokens(TYPE, COUNT).map((doc) => ({ ...doc, status: 'staging' }));
    for (let from = 0; from < COUNT; from += BATCH)
      await picas.db.bulk({ docs: tokens.slice(from, from + BATCH) });
    // `lrt db serve` builds the claim's index in the background after writes: let it finish first.
    await picas.server.request({
      db: name,
      path: `_design/${claimDesignDocName(TYPE)}/_view/${SPREAD_VIEW}`,
      qs: { limit: 0 },
    } as nano.RequestOptions);
    const ids = tokens.map((d) => d._id).sort();
    const overview: ResolvedView = { type: TYPE, view: 'overview_total', designDoc: TYPE, reduce: true };
    const middle = ids[Math.floor(COUNT / 2)]!;
    const deep = { state: 'staging', limit: PAGE, after: encodeCursor({ key: 'staging', id: middle }) };
    const build = await timed(() => readTokenPage(picas, TYPE, { state: 'staging', limit: PAGE }));
    const first = await timed(() => readTokenPage(picas, TYPE, { state: 'staging', limit: PAGE }));
    await readTokenPage(picas, TYPE, deep);
    const deepPage = await timed(() => readTokenPage(picas, TYPE, deep));
    const expected = ids.slice(Math.floor(COUNT / 2) + 1, Math.floor(COUNT / 2) + 1 + PAGE);
    const got = deepPage.value.rows.map((r) => r.id);
    const right = JSON.stringify(got) === JSON.stringify(expected);
    // The view read alone, as the page runs it (no count): from the key's first row, and deep.
    const viewRead = (qs: Record<string, unknown>) => () =>
      picas.server.request({
        db: name,
        path: `_design/${TYPE}/_view/overview_total`,
        qs: { reduce: false, include_docs: true, limit: PAGE + 1, ...qs },
      } as nano.RequestOptions) as Promise<{ rows: Array<{ id: string }> }>;
    await timed(viewRead({ startkey: 'staging' }));
    const rawFirst = await timed(viewRead({ startkey: 'staging' }));
    const rawDeep = await timed(viewRead({ startkey: 'staging', startkey_docid: middle }));
    const rawRight = rawDeep.value.rows[1]?.id === expected[0];
    const walk = await timed(async () => {
      let pages = 0;
      let rows = 0;
      for await (const page of viewPages(picas, overview, { key: 'staging', pageSize: WALK_PAGE })) {
        pages++;
        rows += page.rows.length;
      }
      return { pages, rows };
    });
    console.log(server.description);
    console.log(`${COUNT} tokens in one key (overview_total "staging"):`);
    console.log(`  /api/tokens first page of ${PAGE}, index build included  ${build.seconds.toFixed(3)} s`);
    console.log(`  /api/tokens first page of ${PAGE}, warm                   ${first.seconds.toFixed(3)} s`);
    console.log(
      `  /api/tokens page after token ${COUNT / 2}, warm             ${deepPage.seconds.toFixed(3)} s` +
        (right ? '' : ` WRONG ROWS: ${got.slice(0, 2).join(', ')}... instead of ${expected[0]}...`),
    );
    console.log(`  view read of ${PAGE + 1} rows from the key's first row  ${rawFirst.seconds.toFixed(3)} s`);
    console.log(
      `  view read of ${PAGE + 1} rows from token ${COUNT / 2}           ${rawDeep.seconds.toFixed(3)} s` +
        (rawRight ? '' : ' WRONG ROWS (from the first row of the key)'),
    );
    console.log(
      `  viewPages walk of the key, pages of ${WALK_PAGE}              ${walk.seconds.toFixed(3)} s ` +
        `(${walk.value.pages} pages, ${walk.value.rows} rows)`,
    );
    if (!right || !rawRight || walk.value.rows !== COUNT) process.exitCode = 1;
    await server.dropDatabase(name);
  } finally {
    await server.stop();
  }
}

main().catch((err) => {
  console.error(benchErrorText(err));
  process.exit(1);
});
