import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackoffPolicy, Rng } from '../core';
import { errorMessage, isLrtError, LrtError, linkedController, mapWithConcurrency } from '../core';
import type { ExtractLimits } from '../sandbox';
import { adler32File, normalizeAdler32 } from './adler32';
import { safeUrl } from './failure';
import { inputFileName } from './inputList';
import { finishPart, localSize, partPathFor, removeQuietly } from './local';
import { checksumUrl, fetchUrl, schemeOf } from './movers';
import { classifyNotStaged, type Sleep, withRetries } from './retry';
import { type BatchOutcome, batchSource, planGroups, runBatch } from './stageBatch';
import { type ExtractContext, extractInput, isInputArchive } from './stageExtract';
import { ProgressMeter, type StageInProgress } from './stageProgress';
import { DEFAULT_STAGE_IN_CONCURRENCY, DEFAULT_STAGE_IN_RETRIES } from './stageSpec';
import type { TransferOptions } from './types';

/** LOFAR's exit codes: downloading failed, and inputs still on tape. */
export const EXIT_DOWNLOAD_FAILED = 21;
export const EXIT_NOT_STAGED = 22;
/** Give up on a transfer when no data moved for this long, unless the options say otherwise. */
export const DEFAULT_STALL_TIMEOUT_S = 120;

export type { StageInProgress } from './stageProgress';

export interface StageInOptions {
  urls: readonly string[];
  /** The job's Input/ directory (created when missing). */
  inputDir: string;
  concurrency?: number;
  /** Retries per file after the first attempt. */
  retries?: number;
  /** Unpack `.tar`, `.tar.gz` and `.tgz` inputs into inputDir (safely), removing the tarball. */
  extract?: boolean;
  extractLimits?: ExtractLimits;
  /** Expected adler32 by URL or by file name (the token's checksums). */
  expectedAdler32?: Readonly<Record<string, string>>;
  /** Ask the storage (gfal-sum, Digest) for the checksum of files the token has none for; default true. */
  storageChecksums?: boolean;
  options?: TransferOptions;
  onProgress?: (progress: StageInProgress) => void;
  /** Problems that do not stop the stage-in (a storage that cannot tell a checksum). */
  onWarning?: (message: string) => void;
  /** Tape check before each download; true means NEARLINE (E_NOT_STAGED, exit 22, not retried). */
  isNearline?: (url: string) => Promise<boolean>;
  signal?: AbortSignal;
  backoff?: BackoffPolicy;
  rng?: Rng;
  sleep?: Sleep;
  /** Milliseconds, for the rate; default Date.now. */
  clock?: () => number;
  /** At most one progress report per this many ms (a finished file always reports). Default 1000. */
  progressIntervalMs?: number;
}

export interface StagedFile {
  /** The URL, credentials redacted. */
  url: string;
  /** Where it was downloaded (removed again when it was extracted). */
  path: string;
  bytes: number;
  adler32: string;
  attempts: number;
  /** The top-level entries the archive put into inputDir, when it was extracted. */
  extracted?: string[];
}

export interface StageInResult {
  files: StagedFile[];
  bytes: number;
  seconds: number;
}

interface Item {
  index: number;
  url: string;
  name: string;
  dest: string;
}

function planItems(urls: readonly string[], inputDir: string): Item[] {
  const byName = new Map<string, string>();
  return urls.map((url, index) => {
    const name = inputFileName(url);
    const other = byName.get(name);
    if (other !== undefined) {
      throw new LrtError(
        'E_CONFIG',
        `stage-in: ${safeUrl(other)} and ${safeUrl(url)} would both be stored as Input/${name}`,
        { details: { name } },
      );
    }
    byName.set(name, url);
    return { index, url, name, dest: join(inputDir, name) };
  });
}

function checkCount(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new LrtError('E_USAGE', `stage-in ${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

/** The failure of one file after its attempts: the cause's code, LOFAR's exit code, the URL. */
function stageFailure(item: Item, attempts: number, error: unknown): LrtError {
  const code = isLrtError(error) ? error.code : 'E_TRANSFER';
  const exitCode = code === 'E_NOT_STAGED' ? EXIT_NOT_STAGED : EXIT_DOWNLOAD_FAILED;
  const tries = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
  return new LrtError(
    code,
    `stage-in of ${safeUrl(item.url)} failed after ${tries}: ${errorMessage(error)}`,
    {
      cause: error,
      exitCode,
      details: {
        url: safeUrl(item.url),
        file: item.name,
        attempts,
        ...(isLrtError(error) ? error.details : {}),
      },
    },
  );
}

function extractFailure(item: Item, error: unknown): LrtError {
  return new LrtError(
    isLrtError(error) ? error.code : 'E_IO',
    `stage-in of ${safeUrl(item.url)}: extracting ${item.name} failed: ${errorMessage(error)}`,
    { cause: error, exitCode: EXIT_DOWNLOAD_FAILED, details: { url: safeUrl(item.url), file: item.name } },
  );
}

function nearline(item: Item): LrtError {
  return new LrtError(
    'E_NOT_STAGED',
    `stage-in of ${safeUrl(item.url)}: the file is NEARLINE (on tape only); stage it before running this token`,
    { exitCode: EXIT_NOT_STAGED, details: { url: safeUrl(item.url), file: item.name, attempts: 0 } },
  );
}

const CHECKSUM_SCHEMES = new Set(['srm', 'gsiftp', 'https', 'http', 'davs', 'dav']);

/**
 * Downloads `urls` into `inputDir` with at most `concurrency` transfers at a time, each retried
 * with backoff; checksums verified (token value, else the storage's), archives optionally
 * extracted. gsiftp/srm inputs go in batches (one globus-url-copy for several files,
 * stageBatch.ts). The first file that fails for good cancels the others; no `.part` file is left.
 */
export async function stageIn(o: StageInOptions): Promise<StageInResult> {
  const concurrency = checkCount('concurrency', o.concurrency ?? DEFAULT_STAGE_IN_CONCURRENCY, 1, 64);
  const retries = checkCount('retries', o.retries ?? DEFAULT_STAGE_IN_RETRIES, 0, 20);
  const items = planItems(o.urls, o.inputDir);
  const names = new Set(items.map((i) => i.name));
  const meter = new ProgressMeter(
    items.length,
    o.clock ?? Date.now,
    o.progressIntervalMs ?? 1000,
    o.onProgress,
  );
  const { controller, unlink } = linkedController([o.signal, o.options?.signal]);
  const signal = controller.signal;
  const archives: ExtractContext = { names, signal, ...(o.extractLimits ? { limits: o.extractLimits } : {}) };
  const base: TransferOptions = {
    ...o.options,
    stallTimeoutSeconds: o.options?.stallTimeoutSeconds ?? DEFAULT_STALL_TIMEOUT_S,
    signal,
  };
  const warn = o.onWarning ?? (() => undefined);

  async function expectedFor(item: Item): Promise<string | undefined> {
    const given = o.expectedAdler32?.[item.url] ?? o.expectedAdler32?.[item.name];
    if (given !== undefined) {
      const normal = normalizeAdler32(given);
      if (!normal)
        throw new LrtError('E_CONFIG', `expected adler32 "${given}" of ${item.name} is not 8 hex digits`);
      return normal;
    }
    if (o.storageChecksums === false || !CHECKSUM_SCHEMES.has(schemeOf(item.url) ?? '')) return undefined;
    try {
      return await checksumUrl(item.url, 'adler32', base);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      warn(`no storage checksum for ${safeUrl(item.url)}, not verified: ${errorMessage(err)}`);
      return undefined;
    }
  }

  async function checkTape(item: Item): Promise<void> {
    if (!o.isNearline) return;
    const onTape = await o.isNearline(item.url).catch((err: unknown) => {
      if (signal.aborted) throw signal.reason;
      warn(`tape check of ${safeUrl(item.url)} failed, downloading anyway: ${errorMessage(err)}`);
      return false;
    });
    if (onTape) throw nearline(item);
  }

  /** One globus-url-copy for the group (see stageBatch.ts), after the tape checks. */
  async function fetchBatch(group: Item[]): Promise<BatchOutcome> {
    for (const item of group) await checkTape(item);
    const copies = group.map((i) => ({
      source: batchSource(i.url, base.gsiftpDoors)!,
      part: partPathFor(i.dest),
    }));
    return runBatch(copies, base, o.progressIntervalMs ?? 1000, (n) => meter.add(n));
  }

  /** The batch's copy of `item` when it is proven good (the tool said so, or the adler32 matches). */
  async function adoptBatched(item: Item, batch: BatchOutcome, expected: string | undefined) {
    const part = partPathFor(item.dest);
    const bytes = await localSize(part);
    if (bytes === undefined || (batch.state === 'unsure' && expected === undefined)) return undefined;
    const adler32 = await adler32File(part, signal);
    if (expected !== undefined && adler32 !== expected) {
      if (batch.state === 'done')
        warn(`batch copy of ${safeUrl(item.url)} has adler32 ${adler32}, not ${expected}`);
      await removeQuietly(part);
      return undefined;
    }
    await finishPart(part, item.dest);
    meter.add(Math.max(0, bytes - (batch.reported.get(part) ?? 0)));
    return { bytes, adler32, attempts: 1 };
  }

  async function download(item: Item, expected: string | undefined) {
    const outcome = await withRetries(
      async () => {
        let streamed = 0;
        const fetched = await fetchUrl(item.url, item.dest, {
          ...base,
          ...(expected ? { expectedAdler32: expected } : {}),
          onProgress: (n) => {
            streamed += n;
            meter.add(n);
          },
        });
        // Movers that report no progress (globus-url-copy) count the whole file at the end.
        meter.add(Math.max(0, fetched.bytes - (fetched.resumedFrom ?? 0) - streamed));
        return fetched;
      },
      {
        retries,
        signal,
        classify: classifyNotStaged,
        ...(o.backoff ? { backoff: o.backoff } : {}),
        ...(o.rng ? { rng: o.rng } : {}),
        ...(o.sleep ? { sleep: o.sleep } : {}),
        onRetry: ({ attempt, delayMs, error }) =>
          warn(
            `attempt ${attempt} of ${safeUrl(item.url)} failed, retrying in ${delayMs} ms: ${errorMessage(error)}`,
          ),
      },
    );
    if (!outcome.ok) throw stageFailure(item, outcome.attempts, outcome.error);
    const fetched = outcome.value;
    const adler32 = fetched.adler32 ?? (await adler32File(item.dest, signal));
    return { bytes: fetched.bytes, adler32, attempts: outcome.attempts };
  }

  async function stageOne(item: Item, batch?: BatchOutcome): Promise<StagedFile> {
    if (!batch) await checkTape(item);
    const expected = await expectedFor(item);
    const got =
      (batch ? await adoptBatched(item, batch, expected) : undefined) ?? (await download(item, expected));
    const staged: StagedFile = { url: safeUrl(item.url), path: item.dest, ...got };
    if (o.extract && isInputArchive(item.name)) {
      staged.extracted = await extractInput(item.dest, o.inputDir, item.name, archives).catch(
        (err: unknown) => {
          if (signal.aborted) throw signal.reason;
          throw extractFailure(item, err);
        },
      );
    }
    return staged;
  }

  try {
    await mkdir(o.inputDir, { recursive: true });
    const files: StagedFile[] = new Array(items.length);
    const groups = planGroups(
      items,
      concurrency,
      (item) => batchSource(item.url, base.gsiftpDoors) !== undefined,
    );
    await mapWithConcurrency(
      groups,
      concurrency,
      async ({ items: group }) => {
        const batch = group.length > 1 ? await fetchBatch(group) : undefined;
        for (const item of group) {
          files[item.index] = await stageOne(item, batch);
          meter.fileDone();
        }
      },
      controller,
    );
    return { files, bytes: meter.totalBytes, seconds: meter.seconds() };
  } catch (err) {
    await Promise.all(items.map((i) => rm(`${i.dest}.part`, { force: true }).catch(() => undefined)));
    throw err;
  } finally {
    unlink();
  }
}
