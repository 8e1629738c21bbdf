import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { type EmbeddedCouch, startEmbeddedCouch } from '../dbserver';
import {
  bulkCreateTokens,
  ensureDatabase,
  ensureDesignDoc,
  openPicas,
  tokenOverview,
  tokensFromSlices,
} from '../picas';
import type { PicasSettings } from '../picas/connectionSettings';
import { defaultPilotPath } from '../sandbox/build';
import { chunksToRecord, SurlList, sliceBySubband } from '../srm';
import { demoDataFields, demoInputList, writeDemoLta } from './demoData';
import { writeDemoSandbox } from './demoSandbox';
import { DEMO_SURLS } from './demoSurls';

export interface DemoOptions {
  dir: string;
  pilots: number;
  perToken: number;
  /** Seconds the demo payload spends per file, so the progress is visible. */
  sleep: number;
  /** Make the token of this start subband fail, to show an error token. */
  failSubband?: string;
  /** An external PiCaS server (with credentials) instead of the embedded one. */
  url?: string;
  database: string;
  pilotPath?: string;
  onCounts?: (counts: DemoCounts) => void;
  /** Ctrl-C: the pilots get SIGTERM (each gives its token back) and the demo ends with them. */
  signal?: AbortSignal;
}

export interface DemoCounts {
  total: number;
  todo: number;
  locked: number;
  done: number;
  error: number;
}

export interface DemoResult {
  url: string;
  database: string;
  type: string;
  tokens: number;
  counts: DemoCounts;
  seconds: number;
  pilotExitCodes: number[];
  logsDir: string;
  ledger: string[];
  /** The result tarballs the pilots uploaded (file:// stage-out into `<dir>/results`). */
  results: string[];
  resultsDir: string;
  /** Stopped by `signal` before every token was done or in error. */
  interrupted: boolean;
}

export const DEMO_TYPE = 'demo';

function countsFrom(overview: Record<string, number>, total: number): DemoCounts {
  const done = overview.done ?? 0;
  const error = overview.error ?? 0;
  const todo = overview.todo ?? 0;
  return { total, todo, done, error, locked: Math.max(0, total - todo - done - error) };
}

/**
 * The README's main job: the embedded CouchDB server, one token type made from a real SURL list,
 * a demo sandbox whose master.sh works on each token's srm.txt, and several dist/pilot.js
 * processes draining the tokens while the counts are watched.
 */
export async function runDemo(options: DemoOptions, server?: EmbeddedCouch): Promise<DemoResult> {
  const started = Date.now();
  const dir = resolve(options.dir);
  const logsDir = join(dir, 'logs');
  await mkdir(logsDir, { recursive: true });
  const url = options.url ?? server?.urlWithCredentials;
  if (!url) throw new Error('runDemo needs a server URL or an embedded server');
  const parsed = new URL(url);
  const settings: PicasSettings = {
    url: `${parsed.protocol}//${parsed.host}`,
    database: options.database,
    user: decodeURIComponent(parsed.username) || undefined,
    password: decodeURIComponent(parsed.password) || undefined,
  };
  const picas = openPicas(settings);
  await ensureDatabase(picas);
  await ensureDesignDoc(picas, DEMO_TYPE);

  const sandbox = await writeDemoSandbox(dir);
  const list = SurlList.of(DEMO_SURLS, 'srm_50_sara.txt');
  const slices = chunksToRecord(sliceBySubband(list.entries, options.perToken));
  const ltaDir = join(dir, 'lta');
  const resultsDir = join(dir, 'results');
  await writeDemoLta(ltaDir, DEMO_SURLS);
  await mkdir(resultsDir, { recursive: true });
  const tokens = tokensFromSlices(DEMO_TYPE, slices, {
    obsid: list.obsid,
    fields: { SBXloc: `file://${sandbox}`, PIPELINE: 'demo', ...demoDataFields(resultsDir) },
  }).map((token, i) => ({
    ...token,
    attachments: [...(token.attachments ?? []), demoInputList(ltaDir, Object.values(slices)[i] ?? [])],
  }));
  const created = await bulkCreateTokens(picas, DEMO_TYPE, tokens);
  const total = created.created.length + created.existing.length;

  const ledger = join(dir, 'processed.txt');
  const pilotPath = options.pilotPath ?? defaultPilotPath();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? dir,
    PICAS_URL: url,
    PICAS_DB: options.database,
    DEMO_LEDGER: ledger,
    DEMO_SLEEP: String(options.sleep),
    ...(options.failSubband ? { DEMO_FAIL_SB: options.failSubband } : {}),
  };
  const pilots: ResultPromise[] = [];
  for (let i = 1; i <= options.pilots; i++) {
    pilots.push(
      execa(
        'node',
        [
          pilotPath,
          '--type',
          DEMO_TYPE,
          '--workdir',
          join(dir, 'jobs'),
          '--cache',
          join(dir, 'cache'),
          '--log',
          join(logsDir, `pilot-${i}.log`),
        ],
        {
          env,
          extendEnv: false,
          reject: false,
          stdin: 'ignore',
          ...(options.signal ? { cancelSignal: options.signal } : {}),
        },
      ),
    );
  }

  let counts = countsFrom(await tokenOverview(picas, DEMO_TYPE), total);
  let finished = false;
  const exits = Promise.all(pilots).finally(() => {
    finished = true;
  });
  while (!finished) {
    options.onCounts?.(counts);
    await Promise.race([exits, delay(300)]);
    counts = countsFrom(await tokenOverview(picas, DEMO_TYPE), total);
  }
  const results = await exits;
  options.onCounts?.(counts);
  let processed: string[] = [];
  try {
    processed = (await readFile(ledger, 'utf8')).split('\n').filter(Boolean);
  } catch {}
  return {
    url: settings.url,
    database: options.database,
    type: DEMO_TYPE,
    tokens: total,
    counts,
    seconds: (Date.now() - started) / 1000,
    pilotExitCodes: results.map((r) => r.exitCode ?? 1),
    logsDir,
    ledger: processed,
    results: (await readdir(resultsDir)).sort(),
    resultsDir,
    interrupted: options.signal?.aborted ?? false,
  };
}

export { startEmbeddedCouch };
