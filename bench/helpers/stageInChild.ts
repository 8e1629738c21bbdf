// Bundled by bench/stage-in.ts with esbuild (tsx cannot load the ESM-only execa that the movers
// use). A pilot stand-in: one stageIn call as src/pilot/dataSteps.ts makes it, timed from inside.
// Arg: a JSON job file (StageInChildJob). Prints one JSON line (StageInChildResult) on stdout.
import { readFileSync } from 'node:fs';
import { stageIn } from '../../src/transfer/stageIn';
import type { TransferOptions } from '../../src/transfer/types';

export interface StageInChildJob {
  urls: string[];
  inputDir: string;
  concurrency: number;
  /** globus-url-copy -p N; unset = one stream. */
  parallel?: number;
  /** The token's checksums by file name; empty = ask the storage (gfal-sum / Digest). */
  checksums: Record<string, string>;
  storageChecksums: boolean;
  proxy?: string;
  certDir?: string;
  gfalPython?: string;
}

export interface StageInChildResult {
  /** Seconds inside the stageIn call. */
  seconds: number;
  /** Seconds from process start to the call (node start-up and module load). */
  startupSeconds: number;
  /** CPU seconds (user + system) of this node process alone, the tools it ran not counted. */
  nodeCpuSeconds: number;
  bytes: number;
  files: { path: string; bytes: number; adler32: string }[];
  warnings: string[];
}

async function main(): Promise<void> {
  const jobFile = process.argv[2];
  if (!jobFile) throw new Error('usage: stageInChild JOB.json');
  const job = JSON.parse(readFileSync(jobFile, 'utf8')) as StageInChildJob;
  const options: TransferOptions = {
    ...(job.proxy ? { proxy: job.proxy } : {}),
    ...(job.certDir ? { certDir: job.certDir } : {}),
    ...(job.gfalPython ? { gfalPython: job.gfalPython } : {}),
    ...(job.parallel ? { parallel: job.parallel } : {}),
  };
  const warnings: string[] = [];
  const startupSeconds = process.uptime();
  const t0 = performance.now();
  const result = await stageIn({
    urls: job.urls,
    inputDir: job.inputDir,
    concurrency: job.concurrency,
    expectedAdler32: job.checksums,
    storageChecksums: job.storageChecksums,
    options,
    onWarning: (w) => warnings.push(w),
    onProgress: () => undefined, // the pilot reports progress; keep its cost in the figure
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage();
  const out: StageInChildResult = {
    seconds,
    startupSeconds,
    nodeCpuSeconds: (cpu.user + cpu.system) / 1e6,
    bytes: result.bytes,
    files: result.files.map((f) => ({ path: f.path, bytes: f.bytes, adler32: f.adler32 })),
    warnings,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
