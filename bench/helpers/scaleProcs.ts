import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { rssSampler } from './stageInRss';

/**
 * The lrt commands of bench/scale, run as a user runs them (`node dist/lrt.js ...`, argument
 * arrays, no shell): wall time, peak RSS sampled every 50 ms, and the bytes written to stdout,
 * counted, not kept (`tokens list --json` of 1M tokens is gigabytes).
 */

const ROOT = resolve(__dirname, '../..');
export const LRT = resolve(ROOT, 'dist/lrt.js');

export interface Measured {
  seconds: number;
  peakRssBytes: number;
  stdoutBytes: number;
  /** The first 64 KB of stdout (a JSON summary; the head of a long listing). */
  stdoutHead: string;
  stderrTail: string;
}

export function runLrt(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Measured> {
  return new Promise((done, fail) => {
    const sampler = rssSampler(50);
    const started = performance.now();
    const child = spawn(process.execPath, [LRT, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdoutBytes = 0;
    let stdoutHead = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutHead.length < 65536) stdoutHead += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.on('spawn', () => child.pid !== undefined && sampler.watch(child.pid));
    child.on('error', fail);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      const { peakBytes } = sampler.stop();
      if (code !== 0) {
        fail(
          new Error(
            `lrt ${args.join(' ')} exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
          ),
        );
        return;
      }
      done({ seconds, peakRssBytes: peakBytes, stdoutBytes, stdoutHead, stderrTail: stderr });
    });
  });
}

export interface ServeProcess {
  url: string;
  stop(): Promise<void>;
}

/** `lrt serve --port 0 --json`: its URL from the first line it prints. */
export function startServe(type: string, env: NodeJS.ProcessEnv): Promise<ServeProcess> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [LRT, 'serve', '--type', type, '--port', '0', '--json'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      try {
        const { url } = JSON.parse(out) as { url: string };
        done({
          url,
          stop: () =>
            new Promise<void>((stopped) => {
              child.once('close', () => stopped());
              child.kill('SIGTERM');
            }),
        });
      } catch {
        // the object is not complete yet
      }
    });
    child.once('close', (code) => fail(new Error(`lrt serve exited ${code}: ${err.trim()}`)));
  });
}

/** GET `url`: seconds until the whole answer was read; an HTTP error throws. */
export async function timedGet(url: string): Promise<{ seconds: number; body: unknown }> {
  const started = performance.now();
  const res = await fetch(url);
  const text = await res.text();
  const seconds = (performance.now() - started) / 1000;
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return { seconds, body: JSON.parse(text) };
}
