import { pathToFileURL } from 'node:url';
import type { LrtError } from '../core';
import { adler32File } from './adler32';
import {
  classifyGfalExit,
  classifyGridStderr,
  type Direction,
  describeKind,
  type FailureKind,
  kindCode,
  safeUrl,
  transferFailure,
} from './failure';
import { globusUrlCopyArgs, parseGfalLsLine, parseGfalSum } from './gridArgs';
import {
  ensureParentDir,
  finishPart,
  localSize,
  partPathFor,
  removeQuietly,
  requireLocalFile,
  verifyAdler32,
} from './local';
import { runTool, type ToolRun } from './tools';
import type { ChecksumAlgorithm, FetchResult, Mover, PutResult, StatResult, TransferOptions } from './types';

function failure(
  action: string,
  url: string,
  direction: Direction,
  kind: FailureKind,
  run: ToolRun,
): LrtError {
  const reason = run.signal
    ? `${run.tool} crashed (${run.signal}); retry`
    : describeKind(kind, direction, run.stderr);
  return transferFailure({
    code: kindCode(kind, direction),
    action,
    url,
    reason,
    tool: run.tool,
    stderr: run.stderr,
    ...(run.exitCode === undefined ? {} : { exitCode: run.exitCode }),
  });
}

async function copy(
  src: string,
  dst: string,
  remote: string,
  direction: Direction,
  options: TransferOptions,
) {
  const run = await runTool('globus-url-copy', globusUrlCopyArgs(src, dst, options), options);
  if (run.exitCode === 0) return;
  const action = direction === 'put' ? 'upload to' : 'download';
  throw failure(action, remote, direction, run.signal ? 'other' : classifyGridStderr(run.stderr), run);
}

/** gfal tools crash now and then (seen: `free(): invalid pointer`); a query is re-run once. */
async function gfalQuery(
  tool: 'gfal-ls' | 'gfal-sum',
  args: string[],
  url: string,
  options: TransferOptions,
) {
  let run = await runTool(tool, args, options);
  if (run.signal) run = await runTool(tool, args, options);
  if (run.exitCode !== 0) {
    const kind = run.signal ? 'other' : classifyGfalExit(run.exitCode, run.stderr);
    throw failure(tool === 'gfal-ls' ? 'stat' : 'checksum of', url, 'query', kind, run);
  }
  return run;
}

/** gsiftp:// through globus-url-copy (copies) and gfal (stat, checksum). */
export const gsiftpMover: Mover = {
  schemes: ['gsiftp'],

  async fetch(url: string, dest: string, options: TransferOptions = {}): Promise<FetchResult> {
    await ensureParentDir(dest);
    const part = partPathFor(dest);
    // globus-url-copy cannot resume a file from an earlier run, and creates it even on failure.
    await removeQuietly(part);
    try {
      await copy(url, pathToFileURL(part).href, url, 'fetch', options);
    } catch (err) {
      await removeQuietly(part);
      throw err;
    }
    const bytes = (await localSize(part)) ?? 0;
    let adler32: string | undefined;
    if (options.expectedAdler32 !== undefined) {
      adler32 = await adler32File(part, options.signal);
      await verifyAdler32(url, adler32, options.expectedAdler32, part);
    }
    await finishPart(part, dest);
    return { url: safeUrl(url), dest, bytes, ...(adler32 ? { adler32 } : {}) };
  },

  async put(src: string, url: string, options: TransferOptions = {}): Promise<PutResult> {
    const bytes = await requireLocalFile(src);
    await copy(pathToFileURL(src).href, url, url, 'put', options);
    return { url: safeUrl(url), bytes };
  },

  async stat(url: string, options: TransferOptions = {}): Promise<StatResult> {
    const run = await gfalQuery('gfal-ls', ['-l', '-d', url], url, options);
    const entry = parseGfalLsLine(run.stdout);
    if (!entry) {
      throw transferFailure({
        code: 'E_TRANSFER',
        action: 'stat',
        url,
        reason: 'gfal-ls printed no entry',
        tool: 'gfal-ls',
        stderr: `${run.stdout}\n${run.stderr}`,
      });
    }
    return { url: safeUrl(url), ...entry };
  },

  async checksum(url: string, algorithm: ChecksumAlgorithm, options: TransferOptions = {}): Promise<string> {
    const run = await gfalQuery('gfal-sum', [url, algorithm.toUpperCase()], url, options);
    const sum = parseGfalSum(run.stdout);
    if (!sum) {
      throw transferFailure({
        code: 'E_TRANSFER',
        action: 'checksum of',
        url,
        reason: `gfal-sum printed no ${algorithm}`,
        tool: 'gfal-sum',
        stderr: run.stdout,
      });
    }
    return sum;
  },
};
