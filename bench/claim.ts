/**
 * The claim: 2,000 tokens drained by 8 and by 64 concurrent claimers, grid-lrt's claimToken
 * against SURF picasclient's claim (view limit 100, random row, GET, PUT, give up after 10
 * conflicts), plus the server's raw rate of single-document updates at the same concurrency.
 *
 *   npx tsx bench/claim.ts [--tokens 2000] [--claimers 8,64] [--repeat 1] [--warmup 1] [--out FILE]
 *     [--scenarios grid-lrt,picasclient,raw-put,raw-view-put] [--page-size N] [--backoff-base MS] [--backoff-max MS] [--cache-max-age MS] [--race-pause MS]
 *     [--server URL]
 *
 * One embedded server (in memory) in a CHILD process for the whole run, or the CouchDB of
 * `--server` / COUCHDB_URL (its databases are named for the run and dropped at the end); every
 * drain gets a fresh database with the design documents of ensureDesignDoc (`_design/<type>`, the
 * claim's `_design/claim:<type>`), their indexes built before the clock starts.
 * Claimers are async loops in this process: client and server CPU are printed to show which
 * side limits. The tuning flags go to claimToken as ClaimOptions (defaults: claim.ts's own).
 * Before the timed drains, --warmup rounds of every scenario run untimed (results dropped): the
 * first drains of a fresh server run 30-45 % slower while the JIT warms up, which would hand
 * whichever scenario runs first a handicap.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ClaimOptions } from '../src/picas/protocol';
import { benchErrorText, openBenchServer, serverHelp, serverUrlFrom } from './helpers/benchServer';
import { markdownTable, targetChecks } from './helpers/claimReport';
import { type DrainResult, runScenario, type ScenarioKind } from './helpers/claimScenarios';

const ROOT = resolve(__dirname, '..');
const TYPE = 'bench';
const KINDS: ScenarioKind[] = ['grid-lrt', 'picasclient', 'raw-put', 'raw-view-put'];

const USAGE = `usage: npx tsx bench/claim.ts [options]

Drains N tokens with grid-lrt's claimToken, SURF picasclient's claim and raw PUTs, at each
claimer count, and compares them (results to --out as JSON, a table to stdout).

--tokens N            tokens per drain (2000)
--claimers A,B        concurrent claimers, one drain per value (8,64)
--repeat N            timed drains per scenario and claimer count (1)
--warmup N            untimed rounds of every scenario first (1)
--scenarios LIST      some of ${KINDS.join(',')}
--page-size N, --backoff-base MS, --backoff-max MS, --cache-max-age MS, --race-pause MS
                      ClaimOptions for grid-lrt (default: claimToken's own)
--out FILE            JSON results (bench/out/claim.json)
${serverHelp(22)}
-h, --help            this text`;

const { values } = parseArgs({
  options: {
    help: { type: 'boolean', short: 'h' },
    server: { type: 'string' },
    tokens: { type: 'string', default: '2000' },
    claimers: { type: 'string', default: '8,64' },
    repeat: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '1' },
    'page-size': { type: 'string' },
    'backoff-base': { type: 'string' },
    'backoff-max': { type: 'string' },
    'cache-max-age': { type: 'string' },
    'race-pause': { type: 'string' },
    out: { type: 'string', default: 'bench/out/claim.json' },
    scenarios: { type: 'string', default: KINDS.join(',') },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number >= 1, got ${text}`);
  return n;
}

const TOKENS = positive('tokens', values.tokens);
const CLAIMERS = values.claimers.split(',').map((c) => positive('claimers', c.trim()));
const REPEAT = positive('repeat', values.repeat);
const WARMUP = Number(values.warmup);
if (!Number.isInteger(WARMUP) || WARMUP < 0)
  throw new Error(`--warmup must be a whole number >= 0, got ${values.warmup}`);
const SCENARIOS = values.scenarios.split(',').map((s) => {
  const kind = KINDS.find((k) => k === s.trim());
  if (!kind) throw new Error(`--scenarios: unknown scenario ${s}, expected some of ${KINDS.join(',')}`);
  return kind;
});
const claimOptions: Partial<ClaimOptions> = {};
if (values['page-size']) claimOptions.pageSize = positive('page-size', values['page-size']);
if (values['backoff-base']) claimOptions.backoffBaseMs = positive('backoff-base', values['backoff-base']);
if (values['backoff-max']) claimOptions.backoffMaxMs = positive('backoff-max', values['backoff-max']);
if (values['cache-max-age']) claimOptions.cacheMaxAgeMs = positive('cache-max-age', values['cache-max-age']);
if (values['race-pause'] !== undefined) {
  const ms = Number(values['race-pause']);
  if (!Number.isInteger(ms) || ms < 0)
    throw new Error(`--race-pause must be a whole number >= 0, got ${values['race-pause']}`);
  claimOptions.racePauseMs = ms;
}

/** Rotate the order per run, so that a slower moment of a shared machine hits each in turn. */
function order(run: number): ScenarioKind[] {
  return SCENARIOS.map((_, i) => SCENARIOS[(i + run) % SCENARIOS.length]!);
}

async function main(): Promise<void> {
  const server = await openBenchServer(serverUrlFrom(values.server));
  process.stderr.write(`server: ${server.description}\n`);
  const results: DrainResult[] = [];
  try {
    for (let round = 0; round < WARMUP; round++) {
      for (const kind of SCENARIOS) {
        process.stderr.write(`warm-up: ${kind}, ${CLAIMERS[0]} claimers ... `);
        const warm = await runScenario(kind, {
          server,
          type: TYPE,
          tokens: TOKENS,
          claimers: CLAIMERS[0]!,
          claimOptions,
          run: -1 - round,
        });
        process.stderr.write(`${warm.tokensPerSecond.toFixed(0)} tokens/s (not counted)\n`);
      }
    }
    for (const claimers of CLAIMERS) {
      for (let run = 0; run < REPEAT; run++) {
        for (const kind of order(run)) {
          process.stderr.write(`${kind}: ${TOKENS} tokens, ${claimers} claimers (run ${run + 1}) ... `);
          const result = await runScenario(kind, {
            server,
            type: TYPE,
            tokens: TOKENS,
            claimers,
            claimOptions,
            run,
          });
          results.push(result);
          process.stderr.write(
            `${result.tokensPerSecond.toFixed(0)} tokens/s in ${result.seconds.toFixed(2)} s` +
              `${result.errors.length ? `, ${result.errors.length} errors: ${result.errors[0]}` : ''}\n`,
          );
        }
      }
    }
  } finally {
    await server.stop();
  }

  // Sorted for the table: by concurrency, then scenario in a fixed order.
  const rank: Record<ScenarioKind, number> = {
    'grid-lrt': 0,
    picasclient: 1,
    'raw-put': 2,
    'raw-view-put': 3,
  };
  results.sort((a, b) => a.claimers - b.claimers || rank[a.scenario] - rank[b.scenario]);
  const checks = targetChecks(results);
  const environment = {
    node: process.version,
    cpus: `${availableParallelism()} x ${cpus()[0]?.model ?? 'unknown'}`,
    loadavgAtEnd: loadavg().map((l) => Number(l.toFixed(2))),
    server: server.description,
  };
  const out = resolve(ROOT, values.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify({ tokens: TOKENS, repeat: REPEAT, claimOptions, environment, results, checks }, null, 2)}\n`,
  );

  console.log(`\n${TOKENS} tokens per drain, ${environment.server}`);
  console.log(`node ${environment.node}, ${environment.cpus}, load ${environment.loadavgAtEnd.join(' ')}`);
  console.log(`claim options: ${JSON.stringify(claimOptions)} (empty: claimToken's defaults)\n`);
  console.log(markdownTable(results));
  console.log(
    '\ngrid-lrt: GET todo?include_docs&limit=pageSize + PUT; picasclient: GET view + GET doc + PUT;' +
      ' raw-put: one PUT per token, `_rev` known (the ceiling for any claim that writes each token once);' +
      ' raw-view-put: the same after reading a todo page as our claim does (the ceiling of a view-based claim).' +
      ' * = the server holds more second writes than the client saw.\n',
  );
  for (const check of checks) {
    console.log(`${check.pass === undefined ? 'INFO' : check.pass ? 'PASS' : 'FAIL'} ${check.line}`);
  }
  console.log(`\nwritten to ${join(values.out)}`);
}

main().catch((err) => {
  console.error(benchErrorText(err));
  process.exitCode = 1;
});
