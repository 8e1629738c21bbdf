/**
 * bench/overhead: the pilot's own cost per token. One pilot process (dist/pilot.js) drains
 * tokens whose master.sh does nothing, with the sandbox in the node cache after the first token.
 * Per token: the time from one claim to the next (claim, job dir, sandbox copy, attachments,
 * payload, final write with logs) minus the payload's own run time. Baseline in the same run:
 * `bash master.sh` started directly, the floor any runner pays.
 *
 * Run: npm run build && npx tsx bench/overhead.ts [--tokens 300]
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tar from 'tar';
import { bulkCreateTokens } from '../src/picas/bulkCreate';
import { openPicas } from '../src/picas/client';
import { ensureDatabase, ensureDesignDoc } from '../src/picas/designDocStore';
import { startChildServer } from './helpers/childServer';

const ROOT = resolve(__dirname, '..');
const PILOT = join(ROOT, 'dist', 'pilot.js');
const tokensArg = process.argv.indexOf('--tokens');
const TOKENS = tokensArg > 0 ? Number(process.argv[tokensArg + 1]) : 300;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'lrt-bench-overhead-'));
  const sbxDir = join(work, 'sbx');
  mkdirSync(sbxDir);
  writeFileSync(join(sbxDir, 'master.sh'), '#!/usr/bin/env bash\nexit 0\n');
  chmodSync(join(sbxDir, 'master.sh'), 0o755);
  const sandbox = join(work, 'noop.tar.gz');
  await tar.create({ gzip: true, cwd: sbxDir, file: sandbox, portable: true }, ['master.sh']);

  const server = await startChildServer();
  try {
    const url = new URL(server.url);
    const picas = openPicas({
      url: `${url.protocol}//${url.host}`,
      database: 'bench_overhead',
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
    });
    await ensureDatabase(picas);
    await ensureDesignDoc(picas, 'noop');
    const srm = Buffer.from(
      'srm://srm.grid.sara.nl:8443/pnfs/grid.sara.nl/data/lofar/x/L1_SB000_uv.MS.tar\n',
    );
    await bulkCreateTokens(
      picas,
      'noop',
      Array.from({ length: TOKENS }, (_, i) => ({
        id: `t_noop_${String(i).padStart(5, '0')}`,
        fields: { SBXloc: `file://${sandbox}` },
        attachments: [{ name: 'srm.txt', contentType: 'text/plain', data: srm }],
      })),
    );

    const log = join(work, 'pilot.log');
    const started = Date.now();
    const code = await new Promise<number>((done) => {
      const child = spawn(
        process.execPath,
        [PILOT, '--type', 'noop', '--workdir', join(work, 'jobs'), '--log', log],
        {
          env: { PATH: process.env.PATH, HOME: work, PICAS_URL: server.url, PICAS_DB: 'bench_overhead' },
          stdio: 'ignore',
        },
      );
      child.on('exit', (c) => done(c ?? 1));
    });
    const wallSeconds = (Date.now() - started) / 1000;
    if (code !== 0) throw new Error(`pilot exited with ${code}; see ${log}`);

    const lines = readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const claims = lines
      .filter((l) => l.msg === 'claimed')
      .map((l) => ({ token: l.token, t: Date.parse(l.time) }));
    const payloadMs = new Map<string, number>(
      lines.filter((l) => l.msg === 'payload ended').map((l) => [l.token, l.durationMs]),
    );
    const overheads: number[] = [];
    const payloads: number[] = [];
    for (let i = 1; i < claims.length - 1; i++) {
      // Token 0 fills the sandbox cache: leave it out, the target is for a cached sandbox.
      const cycle = claims[i + 1]!.t - claims[i]!.t;
      const payload = payloadMs.get(claims[i]!.token) ?? 0;
      overheads.push(cycle - payload);
      payloads.push(payload);
    }

    const bare: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = process.hrtime.bigint();
      spawnSync('bash', ['master.sh'], { cwd: sbxDir });
      bare.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }

    const result = {
      tokens: TOKENS,
      wallSeconds,
      tokensPerSecond: TOKENS / wallSeconds,
      overheadMedianMs: median(overheads),
      overheadP90Ms: percentile(overheads, 90),
      payloadMedianMs: median(payloads),
      bareBashMedianMs: median(bare),
      target: 'median overhead < 50 ms',
      pass: median(overheads) < 50,
    };
    mkdirSync(join(ROOT, 'bench', 'out'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'out', 'overhead.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`pilot overhead per token (${TOKENS} tokens, no-op master.sh, cached sandbox, one pilot)`);
    console.log('| figure | value |');
    console.log('|---|---|');
    console.log(`| median overhead per token | ${result.overheadMedianMs.toFixed(1)} ms |`);
    console.log(`| p90 overhead per token | ${result.overheadP90Ms.toFixed(1)} ms |`);
    console.log(
      `| median payload run (bash master.sh under the pilot) | ${result.payloadMedianMs.toFixed(1)} ms |`,
    );
    console.log(`| baseline: bare \`bash master.sh\` | ${result.bareBashMedianMs.toFixed(1)} ms |`);
    console.log(`| tokens/s, one pilot | ${result.tokensPerSecond.toFixed(1)} |`);
    console.log(
      `| overhead / bare bash | ${(result.overheadMedianMs / result.bareBashMedianMs).toFixed(1)}x |`,
    );
    console.log(`${result.pass ? 'PASS' : 'FAIL'} ${result.target}`);
  } finally {
    await server.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
