import { createWriteStream } from 'node:fs';
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { create as createTar } from 'tar';
import type { BackoffPolicy, Rng } from '../core';
import { LrtError } from '../core';
import { Adler32, adler32Tap } from './adler32';
import type { Sleep } from './retry';
import { expandStageOutTarget, type StageOutPlan, type UploadSpec, uploadDestination } from './stageSpec';
import type { TransferOptions } from './types';
import type { TokenFields } from './uploadTemplate';
import {
  checkDestinationFree,
  DEFAULT_UPLOAD_RETRIES,
  EXIT_NO_OUTPUT,
  type UploadContext,
  uploadVerified,
  type VerifiedUpload,
} from './uploadVerified';

export interface StageOutCommon {
  token: TokenFields;
  jobDir: string;
  options?: TransferOptions;
  /** The time `$DATE` stands for; default now. */
  now?: Date;
  signal?: AbortSignal;
  /** NAME -> token field for `$NAME`; default the token's config.json `_token_keys`. */
  tokenKeys?: Readonly<Record<string, string>>;
  /** Retries of each upload (and destination query) after the first attempt; default 2. */
  retries?: number;
  backoff?: BackoffPolicy;
  rng?: Rng;
  sleep?: Sleep;
  onWarning?: (message: string) => void;
}

export interface UploadResultsOptions extends StageOutCommon {
  upload: UploadSpec;
  /** The folder that is packed, relative to jobDir; default `Output`. */
  outputDir?: string;
}

export type UploadResult = VerifiedUpload;

function contextOf(o: StageOutCommon): UploadContext {
  const signal = o.signal ?? o.options?.signal;
  return {
    options: { ...o.options, ...(signal ? { signal } : {}) },
    retries: o.retries ?? DEFAULT_UPLOAD_RETRIES,
    warn: o.onWarning ?? (() => undefined),
    ...(o.backoff ? { backoff: o.backoff } : {}),
    ...(o.rng ? { rng: o.rng } : {}),
    ...(o.sleep ? { sleep: o.sleep } : {}),
  };
}

function noOutput(what: string): LrtError {
  return new LrtError('E_NOT_FOUND', `nothing to upload: ${what}`, { exitCode: EXIT_NO_OUTPUT });
}

async function entriesOf(dir: string): Promise<string[]> {
  const entries = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') throw noOutput(`${dir} does not exist`);
    throw new LrtError('E_IO', `cannot read ${dir}: ${err.code ?? err.message}`, { cause: err });
  });
  if (entries.length === 0) throw noOutput(`${dir} is empty`);
  return entries.sort();
}

/** Packs `entries` of `dir` (names relative to it, as the launcher's tarball had) into `dest`. */
async function writeTarball(
  dir: string,
  entries: string[],
  dest: string,
  gzip: boolean,
  signal?: AbortSignal,
) {
  const sum = new Adler32();
  const pack = createTar({ cwd: dir, portable: true, ...(gzip ? { gzip: true } : {}) }, entries);
  const tap = adler32Tap(sum);
  const sink = createWriteStream(dest);
  const source = pack as unknown as Readable;
  await (signal ? pipeline(source, tap, sink, { signal }) : pipeline(source, tap, sink));
  return { bytes: sum.bytes, adler32: sum.hex() };
}

/**
 * LOFAR's upload: `Output/` packed as `.tar` (or `.tar.gz`), sent to `location/template` with
 * `$DATE` and `$NAME` filled, then checked at the destination. Exit codes as the launcher's
 * users know them: 30 nothing to upload, 31 upload failed, 33 destination exists (no overwrite).
 * Returns what the pilot records: location, size and adler32.
 */
export async function uploadResults(o: UploadResultsOptions): Promise<UploadResult> {
  const ctx = contextOf(o);
  const { url, name } = uploadDestination(o.upload, o.token, o.now ?? new Date(), o.tokenKeys);
  const outputDir = join(o.jobDir, o.outputDir ?? 'Output');
  const entries = await entriesOf(outputDir);
  await checkDestinationFree(url, o.upload.overwrite, ctx);
  const tmp = await mkdtemp(join(o.jobDir, '.lrt-upload-'));
  try {
    const tarball = join(tmp, name);
    const packed = await writeTarball(outputDir, entries, tarball, o.upload.gzip, ctx.options.signal);
    const sent = await uploadVerified(tarball, url, ctx);
    if (sent.adler32 !== packed.adler32 || sent.bytes !== packed.bytes) {
      throw new LrtError('E_IO', `the tarball ${tarball} changed while it was being uploaded`);
    }
    return sent;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Regular files under `dir`, as paths relative to it, sorted; symbolic links are skipped. */
async function filesUnder(dir: string, warn: (m: string) => void, root = dir): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isFile()) out.push(relative(root, path));
    else if (entry.isDirectory()) out.push(...(await filesUnder(path, warn, root)));
    else if (entry.isSymbolicLink()) warn(`${path} is a symbolic link: not uploaded`);
  }
  return out.sort();
}

export interface StagedOutFile extends VerifiedUpload {
  /** The local file, relative to the job dir. */
  from: string;
}

export interface StageOutFilesResult {
  files: StagedOutFile[];
  bytes: number;
}

async function regularFile(path: string, shown: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) throw noOutput(`${shown} does not exist`);
  if (!info.isFile()) throw noOutput(`${shown} is not a regular file`);
}

/**
 * The plain mode of `stage_out`: each file to its own URL (`{files}`), or every file under a
 * folder to `to/<relative path>` (`{dir, to}`). Every destination is checked before the first
 * upload, so an existing one (no overwrite) stops it before anything moved.
 */
export async function stageOutFiles(
  o: StageOutCommon & { plan: Exclude<StageOutPlan, { kind: 'upload' }> },
): Promise<StageOutFilesResult> {
  const ctx = contextOf(o);
  const now = o.now ?? new Date();
  const { plan } = o;
  const pairs: { from: string; to: string }[] = [];
  if (plan.kind === 'files') {
    for (const [i, file] of plan.files.entries()) {
      await regularFile(join(o.jobDir, file.from), file.from);
      const to = expandStageOutTarget(file.to, o.token, now, `stage_out.files[${i}].to`, o.tokenKeys);
      pairs.push({ from: file.from, to: to.endsWith('/') ? `${to}${basename(file.from)}` : to });
    }
  } else {
    const dir = join(o.jobDir, plan.dir);
    await entriesOf(dir);
    const files = await filesUnder(dir, ctx.warn);
    if (files.length === 0) throw noOutput(`${plan.dir} holds no regular files`);
    const to = expandStageOutTarget(plan.to, o.token, now, 'stage_out.to', o.tokenKeys).replace(/\/+$/, '');
    for (const file of files)
      pairs.push({ from: join(plan.dir, file), to: `${to}/${file.split('\\').join('/')}` });
  }
  for (const pair of pairs) await checkDestinationFree(pair.to, plan.overwrite, ctx);
  const done: StagedOutFile[] = [];
  for (const pair of pairs) {
    done.push({ from: pair.from, ...(await uploadVerified(join(o.jobDir, pair.from), pair.to, ctx)) });
  }
  return { files: done, bytes: done.reduce((sum, f) => sum + f.bytes, 0) };
}

/** The token fields a finished upload is recorded in. */
export function resultsFields(result: UploadResult): Record<string, string | number> {
  return {
    Results_location: result.location,
    Results_size: result.bytes,
    Results_adler32: result.adler32,
  };
}
