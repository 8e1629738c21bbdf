/**
 * A campaign of N tokens, end to end, as a user runs it: the lrt commands (node dist/lrt.js) and
 * the `lrt serve` page's API against one server, per N.
 *
 *   npx tsx bench/scale.ts [--tokens 10000,100000[,1000000]] [--server URL] [--embedded memory,data]
 *
 * Per N: `tokens create` from a SURL list (one token per SURL) with its time and peak RSS; the
 * first claim right after it (claimToken, as a pilot calls it: the index it reads is as fresh as
 * the server keeps it); `tokens overview` and `status`, cold then warm; `/api/status` of
 * `lrt serve`; a deep `/api/tokens` page (at N/2); `tokens list --view todo --json` (time, RSS,
 * bytes); 8 concurrent claimers for a fixed time (claims/s); `/api/status` once more after their
 * writes; the server's RSS (and its folder's size with --data). Without --server each N gets a
 * fresh embedded server in a child process per --embedded kind (in memory; on disk with --data).
 * The baseline is the first N of the run: every figure is also given as a multiple of its
 * figure there (1x: flat in N; 10x for 10x the tokens: linear). Results also go to
 * bench/out/scale.json.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeCursor } from '../src/monitor/tokens';
import { CACHED_CLAIM_PAGE_SIZE, claimToken, newCandidateCache } from '../src/picas/protocol';
import { sliceTokenId } from '../src/picas/tokens';
import { benchErrorText, openBenchServer, serverHelp, serverUrlFrom } from './helpers/benchServer';
import { picasAt } from './helpers/claimDb';
import { runLrt, startServe, timedGet } from './helpers/scaleProcs';
import { vmHwmBytes, vmRssBytes } from './helpers/stageInRss';

const ROOT = resolve(__dirname, '..');
const TYPE = 'scale';
const CLAIMERS = 8;

const USAGE = `usage: npx tsx bench/scale.ts [options]

A campaign of N tokens through the lrt commands and the lrt serve API, per N (needs npm run build).

--tokens A,B,...   token counts, one campaign each (10000,100000)
--embedded KINDS   without --server: memory, data or both (memory,data); a fresh server per N
--pilot-seconds S  how long the ${CLAIMERS} claimers run per N (8)
--out FILE         JSON results (bench/out/scale.json)
${serverHelp(19)}
-h, --help         this text`;

const { values } = parseArgs({
  options: {
    help: { type: 'boolean', short: 'h' },
    server: { type: 'string' },
    tokens: { type: 'string', default: '10000,100000' },
    embedded: { type: 'string', default: 'memory,data' },
    'pilot-seconds': { type: 'string', default: '8' },
    out: { type: 'string', default: join(ROOT, 'bench/out/scale.json') },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const COUNTS = values.tokens.split(',').map((n) => Number(n.replace(/_/g, '')));
if (COUNTS.some((n) => !Number.isInteger(n) || n < 1))
  throw new Error(`--tokens: whole numbers, got ${values.tokens}`);
const PILOT_SECONDS = Number(values['pilot-seconds']);
const EXTERNAL = serverUrlFrom(values.server);
const KINDS = EXTERNAL ? ['external'] : values.embedded.split(',');

/** One SURL per token (--per-token 1): an OBSID and a six-digit subband. */
function writeSurlList(dir: string, count: number): string {
  const file = join(dir, `srm_${count}.txt`);
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    lines.push(
      `srm://srm.grid.sara.nl:8443/pnfs/grid.sara.nl/data/lofar/ops/projects/lc2_038/229507/L229507_SB${String(i).padStart(6, '0')}_uv.dppp.MS_3d78b8f1.tar\n`,
    );
  }
  writeFileSync(file, lines.join(''));
  return file;
}

function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? folderBytes(path) : statSync(path).size;
  }
  return total;
}

function claimOptions(n: number) {
  return {
    pilotId: `scale-pilot-${n}`,
    host: `wn${n}.scale`,
    leaseSeconds: 3600,
    maxAttempts: 3,
    cache: newCandidateCache(),
    pageSize: CACHED_CLAIM_PAGE_SIZE,
  };
}

/** CLAIMERS claimers, each claiming one token after another, for `seconds`. */
async function claimersFor(serverUrl: string, database: string, seconds: number): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let claims = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLAIMERS }, async (_, n) => {
      const picas = picasAt(serverUrl, database);
      const options = claimOptions(n);
      while (performance.now() < until) {
        if (!(await claimToken(picas, TYPE, options))) return;
        claims++;
      }
    }),
  );
  return claims / ((performance.now() - started) / 1000);
}

interface Figures {
  kind: string;
  server: string;
  tokens: number;
  createSeconds: number;
  createPeakRssMB: number;
  firstClaimSeconds: number;
  overviewColdSeconds: number;
  overviewSeconds: number;
  statusColdSeconds: number;
  statusSeconds: number;
  apiStatusColdSeconds: number;
  apiStatusSeconds: number;
  apiTokensDeepSeconds: number;
  apiTokensDeepNote: string;
  listSeconds: number;
  listPeakRssMB: number;
  listMB: number;
  claimsPerSecond: number;
  apiStatusAfterClaimsSeconds: number;
  serverRssMB: number | undefined;
  serverPeakRssMB: number | undefined;
  dataMB: number | undefined;
}

const MB = 1e6;

async function campaign(kind: string, count: number, scratch: string): Promise<Figures> {
  const dataDir = kind === 'data' ? mkdtempSync(join(scratch, 'data-')) : undefined;
  const server = await openBenchServer(EXTERNAL, dataDir ? ['--data', dataDir] : []);
  process.stderr.write(`\n${count} tokens on ${server.description}\n`);
  try {
    const database = server.databaseName('scale');
    const env = { ...process.env, PICAS_URL: server.url, PICAS_DB: database, PICAS_TYPE: TYPE };
    const list = writeSurlList(scratch, count);
    const step = (what: string) => process.stderr.write(`  ${what} ...\n`);

    step('tokens create');
    const create = await runLrt(
      ['tokens', 'create', '--type', TYPE, '--srm', list, '--per-token', '1', '--json'],
      env,
    );

    step('first claim');
    const claimStarted = performance.now();
    const first = await claimToken(picasAt(server.url, database), TYPE, claimOptions(99));
    const firstClaimSeconds = (performance.now() - claimStarted) / 1000;
    if (!first) throw new Error('the first claim found no token');

    step('tokens overview, status (cold, then warm)');
    const overviewCold = await runLrt(['tokens', 'overview', '--type', TYPE, '--json'], env);
    const overview = await runLrt(['tokens', 'overview', '--type', TYPE, '--json'], env);
    const { total } = JSON.parse(overview.stdoutHead) as { total: number };
    if (total !== count) throw new Error(`tokens create made ${total} of ${count} tokens`);
    const statusCold = await runLrt(['status', '--type', TYPE, '--json'], env);
    const status = await runLrt(['status', '--type', TYPE, '--json'], env);

    step('lrt serve: /api/status, a deep /api/tokens page');
    const serve = await startServe(TYPE, env);
    let apiStatusColdSeconds: number;
    let apiStatusSeconds: number;
    let apiTokensDeepSeconds: number;
    let apiStatusAfterClaimsSeconds: number;
    let claimsPerSecond: number;
    let listing: Awaited<ReturnType<typeof runLrt>>;
    // A page deep in the table: the one after the token of subband N/2 (pages go by key, so it
    // should cost what the first page costs).
    const middleId = sliceTokenId(TYPE, 'L229507', String(Math.floor(count / 2)));
    const deep = `api/tokens?after=${encodeCursor({ key: middleId, id: middleId })}&limit=50`;
    try {
      apiStatusColdSeconds = (await timedGet(new URL('api/status', serve.url).toString())).seconds;
      // Past the 1 s the status server shares a report for.
      await new Promise((done) => setTimeout(done, 1100));
      apiStatusSeconds = (await timedGet(new URL('api/status', serve.url).toString())).seconds;
      apiTokensDeepSeconds = (await timedGet(new URL(deep, serve.url).toString())).seconds;

      step('tokens list --view todo --json');
      listing = await runLrt(['tokens', 'list', '--type', TYPE, '--view', 'todo', '--json'], env);

      step(`${CLAIMERS} claimers for ${PILOT_SECONDS} s`);
      claimsPerSecond = await claimersFor(server.url, database, PILOT_SECONDS);
      // Past the 1 s the status server shares a report for: a read with the claims' writes in it.
      await new Promise((done) => setTimeout(done, 1100));
      apiStatusAfterClaimsSeconds = (await timedGet(new URL('api/status', serve.url).toString())).seconds;
    } finally {
      await serve.stop();
    }

    const pid = server.pid;
    const figures: Figures = {
      kind,
      server: server.description,
      tokens: count,
      createSeconds: create.seconds,
      createPeakRssMB: create.peakRssBytes / MB,
      firstClaimSeconds,
      overviewColdSeconds: overviewCold.seconds,
      overviewSeconds: overview.seconds,
      statusColdSeconds: statusCold.seconds,
      statusSeconds: status.seconds,
      apiStatusColdSeconds,
      apiStatusSeconds,
      apiTokensDeepSeconds,
      apiTokensDeepNote: deep,
      listSeconds: listing.seconds,
      listPeakRssMB: listing.peakRssBytes / MB,
      listMB: listing.stdoutBytes / MB,
      claimsPerSecond,
      apiStatusAfterClaimsSeconds,
      serverRssMB: pid === undefined ? undefined : (vmRssBytes(pid) ?? 0) / MB,
      serverPeakRssMB: pid === undefined ? undefined : (vmHwmBytes(pid) ?? 0) / MB,
      dataMB: dataDir ? folderBytes(dataDir) / MB : undefined,
    };
    await server.dropDatabase(database);
    return figures;
  } finally {
    await server.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

const ROWS: Array<[string, (f: Figures) => number | undefined, number]> = [
  ['tokens create, s', (f) => f.createSeconds, 1],
  ['tokens create, peak RSS MB', (f) => f.createPeakRssMB, 0],
  ['first claim after create, s', (f) => f.firstClaimSeconds, 2],
  ['tokens overview cold / warm, s', (f) => f.overviewSeconds, 2],
  ['status cold / warm, s', (f) => f.statusSeconds, 2],
  ['/api/status first / next, s', (f) => f.apiStatusSeconds, 2],
  ['/api/status after the claims, s', (f) => f.apiStatusAfterClaimsSeconds, 2],
  ['/api/tokens after the middle token (by key), s', (f) => f.apiTokensDeepSeconds, 2],
  ['tokens list --view todo --json, s', (f) => f.listSeconds, 1],
  ['tokens list, peak RSS MB', (f) => f.listPeakRssMB, 0],
  [`${CLAIMERS} claimers, claims/s`, (f) => f.claimsPerSecond, 0],
  ['server RSS after, MB', (f) => f.serverRssMB, 0],
  ['server peak RSS, MB', (f) => f.serverPeakRssMB, 0],
  ['--data folder, MB', (f) => f.dataMB, 0],
];

const COLD: Record<string, (f: Figures) => number> = {
  'tokens overview cold / warm, s': (f) => f.overviewColdSeconds,
  'status cold / warm, s': (f) => f.statusColdSeconds,
  '/api/status first / next, s': (f) => f.apiStatusColdSeconds,
};

/** One markdown table per server kind: a column per N, the first N the baseline of the ratios. */
function table(results: Figures[]): string {
  const ns = results.map((f) => f.tokens);
  const head = `| ${results[0]!.kind} | ${ns.map((n) => n.toLocaleString('en')).join(' | ')} |${ns.length > 1 ? ` x of ${ns[0]!.toLocaleString('en')} |` : ''}`;
  const lines = [head, `|---|${ns.map(() => '---|').join('')}${ns.length > 1 ? '---|' : ''}`];
  for (const [label, get, digits] of ROWS) {
    const got = results.map(get);
    if (got.every((v) => v === undefined)) continue;
    const cold = COLD[label];
    const cells = results.map((f, i) =>
      got[i] === undefined ? '-' : `${cold ? `${cold(f).toFixed(digits)} / ` : ''}${got[i]!.toFixed(digits)}`,
    );
    const base = got[0];
    const last = got.at(-1);
    const ratio =
      ns.length > 1 && base && last !== undefined
        ? ` ${(last / base).toFixed(1)}x |`
        : ns.length > 1
          ? ' - |'
          : '';
    lines.push(`| ${label} | ${cells.join(' | ')} |${ratio}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'lrt-scale-'));
  const results: Figures[] = [];
  try {
    for (const kind of KINDS) {
      for (const count of COUNTS) results.push(await campaign(kind, count, scratch));
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  mkdirSync(resolve(values.out, '..'), { recursive: true });
  const record = {
    node: process.version,
    cpus: `${availableParallelism()} x ${cpus()[0]?.model ?? 'unknown'}`,
    pilotSeconds: PILOT_SECONDS,
    results,
  };
  writeFileSync(values.out, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`\nnode ${record.node}, ${record.cpus}`);
  for (const kind of KINDS) {
    const of = results.filter((f) => f.kind === kind);
    console.log(`\n${of[0]!.server}\n\n${table(of)}`);
  }
}

main().catch((err) => {
  console.error(benchErrorText(err));
  process.exitCode = 1;
});
