// Bundled by cache.test.ts with esbuild (like dist/pilot.js). A pilot stand-in for the multi-process cache test: waits for a common start time, prepares
// the sandbox, prints the result as JSON. Args: sourceUrl cacheDir jobDir startAtEpochMs
import { prepareSandbox } from '../../../src/sandbox';

async function main(): Promise<void> {
  const [url, cacheDir, jobDir, startAt] = process.argv.slice(2);
  if (!url || !cacheDir || !jobDir || !startAt)
    throw new Error('usage: prepareChild URL CACHE JOBDIR START_MS');
  const wait = Number(startAt) - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  const result = await prepareSandbox({
    source: { kind: 'tarball', url },
    cacheDir,
    jobDir,
    lock: { pollMs: 20 },
  });
  process.stdout.write(`${JSON.stringify({ ...result, pid: process.pid })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
