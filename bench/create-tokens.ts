/**
 * Token creation: grid-lrt's bulk path (`_bulk_docs`, attachments inline, batches of 500) against
 * the way GRID_LRT creates tokens (one request for the document, one more for its srm.txt).
 *
 *   npx tsx bench/create-tokens.ts [--tokens 10000] [--batch 500] [--server URL]
 *
 * The server is the embedded CouchDB-API server running in a CHILD process, so the client and the
 * server do not share one event loop; or the CouchDB of `--server` / COUCHDB_URL, where the run's
 * databases are named for the run and dropped at the end. Both ways write to the same server in
 * the same run, each into its own database, after a warm-up round of each (1,000 tokens bulk, 250
 * one by one). Results also go to bench/out/create-tokens.json.
 */

import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { getAttachment } from '../src/picas/attachments';
import { bulkCreateTokens } from '../src/picas/bulkCreate';
import { openPicas, type PicasDb } from '../src/picas/client';
import { splitUrlCredentials } from '../src/picas/connectionSettings';
import { ensureDatabase } from '../src/picas/designDocStore';
import { buildTokenDoc, type NewToken } from '../src/picas/tokens';
import { benchErrorText, openBenchServer, serverHelp, serverUrlFrom } from './helpers/benchServer';

const ROOT = resolve(__dirname, '..');
const TYPE = 'bench';

const USAGE = `usage: npx tsx bench/create-tokens.ts [options]

Creates N tokens with a 1-2 KB srm.txt each, grid-lrt's bulk way against GRID_LRT's
PUT doc + PUT attachment, each into its own database (results also to bench/out/create-tokens.json).

--tokens N     tokens per way (10000)
--batch N      documents per _bulk_docs request (500)
${serverHelp(15)}
-h, --help     this text`;

const { values } = parseArgs({
  options: {
    help: { type: 'boolean', short: 'h' },
    server: { type: 'string' },
    tokens: { type: 'string', default: '10000' },
    batch: { type: 'string', default: '500' },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const TOKENS = Number(values.tokens);
const BATCH = Number(values.batch);
const WARMUP = 1000;

/** 9..15 SURLs of the srm_50_sara.txt shape per token: 1.1 to 1.9 KB of srm.txt. */
function makeTokens(count: number): NewToken[] {
  return Array.from({ length: count }, (_, i) => {
    const obsid = 200000 + Math.floor(i / 50);
    const lines = 9 + (i % 7);
    const surls = Array.from(
      { length: lines },
      (_, k) =>
        `srm://srm.grid.sara.nl:8443/pnfs/grid.sara.nl/data/lofar/ops/projects/lc2_038/${obsid}/` +
        `L${obsid}_SB${String(((i % 50) * lines + k) % 1000).padStart(3, '0')}_uv.dppp.MS_${randomBytes(4).toString('hex')}.tar`,
    );
    return {
      id: `t_${TYPE}_L${obsid}_SB${String(i).padStart(5, '0')}`,
      fields: { STARTSB: String(i % 1000).padStart(3, '0'), OBSID: `L${obsid}`, PIPELINE_STEP: 'pref3_cal' },
      attachments: [
        {
          name: 'srm.txt',
          contentType: 'text/plain',
          data: Buffer.from(surls.map((s) => `${s}\n`).join('')),
        },
      ],
    };
  });
}

function picasAt(serverUrl: string, database: string): PicasDb {
  const split = splitUrlCredentials(serverUrl);
  return openPicas({ url: split.url, database, user: split.user, password: split.password });
}

/** GRID_LRT: create_token() writes the document, then add_attachment() PUTs srm.txt with its rev. */
async function perTokenWay(picas: PicasDb, tokens: NewToken[]): Promise<void> {
  for (const token of tokens) {
    const { _attachments, ...doc } = buildTokenDoc(TYPE, { ...token, attachments: [] });
    const created = await picas.db.insert(doc);
    for (const att of token.attachments ?? []) {
      await picas.db.attachment.insert(token.id, att.name, att.data, att.contentType, { rev: created.rev });
    }
  }
}

async function verify(picas: PicasDb, tokens: NewToken[]): Promise<void> {
  const info = await picas.server.db.get(picas.name);
  if (info.doc_count !== tokens.length)
    throw new Error(`${picas.name}: ${info.doc_count} docs, expected ${tokens.length}`);
  for (const i of [0, Math.floor(tokens.length / 2), tokens.length - 1]) {
    const token = tokens[i]!;
    const got = await getAttachment(picas, token.id, 'srm.txt');
    if (!got.equals(token.attachments![0]!.data))
      throw new Error(`${picas.name}: srm.txt of ${token.id} differs`);
  }
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function main(): Promise<void> {
  const tokens = makeTokens(TOKENS);
  const sizes = tokens.map((t) => t.attachments![0]!.data.length);
  const server = await openBenchServer(serverUrlFrom(values.server));
  process.stderr.write(`server: ${server.description}\n`);
  try {
    const bulkDb = picasAt(server.url, server.databaseName('bench_bulk'));
    const perTokenDb = picasAt(server.url, server.databaseName('bench_per_token'));
    await ensureDatabase(bulkDb);
    await ensureDatabase(perTokenDb);

    // Both ways run once on a small set first, so neither pays for the server's JIT warm-up.
    const warmBulk = picasAt(server.url, server.databaseName('bench_warmup_bulk'));
    const warmPerToken = picasAt(server.url, server.databaseName('bench_warmup_per_token'));
    await ensureDatabase(warmBulk);
    await ensureDatabase(warmPerToken);
    const warmTokens = makeTokens(WARMUP);
    await bulkCreateTokens(warmBulk, TYPE, warmTokens, { batchSize: BATCH });
    await perTokenWay(warmPerToken, warmTokens.slice(0, WARMUP / 4));

    process.stderr.write(`bulk: ${TOKENS} tokens in batches of ${BATCH} ...\n`);
    const bulkSeconds = await timed(async () => {
      const report = await bulkCreateTokens(bulkDb, TYPE, tokens, { batchSize: BATCH });
      if (report.created.length !== TOKENS) throw new Error(`bulk created ${report.created.length}`);
    });
    process.stderr.write(`GRID_LRT way: ${TOKENS} x (PUT doc + PUT srm.txt) ...\n`);
    const perTokenSeconds = await timed(() => perTokenWay(perTokenDb, tokens));
    await verify(bulkDb, tokens);
    await verify(perTokenDb, tokens);

    const bulkRate = TOKENS / bulkSeconds;
    const perTokenRate = TOKENS / perTokenSeconds;
    const ratio = bulkRate / perTokenRate;
    const result = {
      tokens: TOKENS,
      batch: BATCH,
      warmup: { bulk: WARMUP, perToken: WARMUP / 4 },
      srmTxtBytes: { min: Math.min(...sizes), max: Math.max(...sizes) },
      node: process.version,
      cpus: `${availableParallelism()} x ${cpus()[0]?.model ?? 'unknown'}`,
      server: server.description,
      bulk: { seconds: bulkSeconds, docsPerSecond: bulkRate },
      perToken: { seconds: perTokenSeconds, docsPerSecond: perTokenRate },
      ratio,
      target: 15,
    };
    mkdirSync(join(ROOT, 'bench/out'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/out/create-tokens.json'), `${JSON.stringify(result, null, 2)}\n`);

    const f = (n: number, d = 0) => n.toFixed(d);
    console.log(
      `\n${TOKENS} tokens, srm.txt ${result.srmTxtBytes.min}-${result.srmTxtBytes.max} B, ${result.server}`,
    );
    console.log(`node ${result.node}, ${result.cpus}\n`);
    console.log('| way | requests | seconds | docs/s |');
    console.log('|---|---|---|---|');
    console.log(
      `| grid-lrt: _bulk_docs x${BATCH}, inline attachments | ${Math.ceil(TOKENS / BATCH)} | ${f(bulkSeconds, 2)} | ${f(bulkRate)} |`,
    );
    console.log(
      `| GRID_LRT: PUT doc + PUT srm.txt per token | ${2 * TOKENS} | ${f(perTokenSeconds, 2)} | ${f(perTokenRate)} |`,
    );
    console.log(`| ratio | | | **${f(ratio, 1)}x** (target >= 15x: ${ratio >= 15 ? 'met' : 'NOT met'}) |`);
  } finally {
    await server.stop();
  }
}

main().catch((err) => {
  console.error(benchErrorText(err));
  process.exitCode = 1;
});
