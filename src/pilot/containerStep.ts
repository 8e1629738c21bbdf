import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, type Logger, LrtError, redactUrl } from '../core';
import { cachedEntry, TREE_DIR, tarballVersion } from '../sandbox';
import { fetchUrl, type TransferOptions, withRetries } from '../transfer';
import { type ContainerSpec, expectedMd5, imageSources } from './containerSpec';
import { gridSourceStat } from './sandboxStep';

/*
 * The container step (phase `pulling_container`, before the sandbox, as GRID_PiCaS_Launcher):
 * the image a token names is put into the node cache once and shared by every pilot on the node.
 *   <cache>/images/sha256/<sha256>.sif   the images, content-addressed, read-only
 *   <cache>/images/<key>/                 one source (URL and its version) -> the sha256 it gave
 *   <cache>/images/.partial/<key>.sif     a download under way: an https one resumes from it
 * The first pilot takes the entry's lock and downloads; the others wait and reuse the image.
 */

export interface ContainerStepOptions {
  /** The node cache (the pilot's --cache): images go under `images/`. */
  cacheDir: string;
  /** Base URL of the shub mirror (--shub-mirror). */
  mirror: string;
  transfer: TransferOptions;
  /** Retries of a failed download (an https one continues where it broke off). */
  retries?: number;
}

export interface PulledImage {
  /** The local image: what $SIMG holds. */
  path: string;
  sha256: string;
  bytes: number;
  /** The URL it came from, credentials redacted. */
  source: string;
  fromCache: boolean;
}

interface ImageRecord {
  sha256: string;
  md5: string;
  bytes: number;
}

const RECORD = 'image.json';

async function digestsOf(path: string, signal: AbortSignal): Promise<{ sha256: string; md5: string }> {
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  for await (const chunk of createReadStream(path, { signal, highWaterMark: 1 << 20 })) {
    sha256.update(chunk as Buffer);
    md5.update(chunk as Buffer);
  }
  return { sha256: sha256.digest('hex'), md5: md5.digest('hex') };
}

function imageError(spec: ContainerSpec, url: string, why: string, cause?: unknown): LrtError {
  const code = cause instanceof LrtError ? cause.code : 'E_TRANSFER';
  return new LrtError(code, `container image ${redactUrl(spec.simg)} (${redactUrl(url)}): ${why}`, {
    ...(cause ? { cause } : {}),
    details: { image: redactUrl(spec.simg), url: redactUrl(url) },
  });
}

interface StepContext {
  signal: AbortSignal;
  logger: Logger;
  report: (state: { statusLine?: string; bytes?: number }) => void;
}

/** Downloads `url` into the stable partial file, checks it, and files it under its sha256. */
async function download(
  spec: ContainerSpec,
  url: string,
  key: string,
  imagesDir: string,
  options: ContainerStepOptions,
  ctx: StepContext,
): Promise<ImageRecord> {
  const partial = join(imagesDir, '.partial', `${key}.sif`);
  await mkdir(join(imagesDir, '.partial'), { recursive: true });
  let bytes = 0;
  const outcome = await withRetries(
    () =>
      fetchUrl(url, partial, {
        ...options.transfer,
        signal: ctx.signal,
        onProgress: (n) => {
          bytes += n;
          ctx.report({
            bytes,
            statusLine: `pulling container ${redactUrl(spec.simg)}: ${(bytes / 1e6).toFixed(0)} MB`,
          });
        },
      }),
    {
      retries: options.retries ?? 3,
      signal: ctx.signal,
      onRetry: ({ error, delayMs }) =>
        ctx.logger.warn(
          { url: redactUrl(url), delayMs, error: errorMessage(error) },
          'image download failed, retrying',
        ),
    },
  );
  if (!outcome.ok) {
    const err = outcome.error;
    const missing = err instanceof LrtError && err.code === 'E_NOT_FOUND';
    throw imageError(spec, url, missing ? 'not found' : errorMessage(err), err);
  }
  const size = (await stat(partial)).size;
  if (size === 0) {
    await rm(partial, { force: true });
    throw imageError(spec, url, 'the download is empty');
  }
  const { sha256, md5 } = await digestsOf(partial, ctx.signal);
  const want = expectedMd5(spec);
  if (want && md5 !== want) {
    await rm(partial, { force: true });
    throw new LrtError(
      'E_CHECKSUM',
      `container image ${redactUrl(spec.simg)} (${redactUrl(url)}): md5 ${md5}, but SIMG_COMMIT is ${want} (cut short or another image)`,
      { details: { image: redactUrl(spec.simg), url: redactUrl(url) } },
    );
  }
  const blobs = join(imagesDir, 'sha256');
  await mkdir(blobs, { recursive: true });
  const blob = join(blobs, `${sha256}.sif`);
  if (await stat(blob).catch(() => undefined)) await rm(partial, { force: true });
  else {
    await chmod(partial, 0o444);
    await rename(partial, blob);
  }
  return { sha256, md5, bytes: size };
}

/** Puts the image of `spec` into the node cache (once per node) and returns its local path. */
export async function pullContainer(
  spec: ContainerSpec,
  options: ContainerStepOptions,
  ctx: StepContext,
): Promise<PulledImage> {
  const imagesDir = join(options.cacheDir, 'images');
  const failures: unknown[] = [];
  for (const url of imageSources(spec, options.mirror)) {
    try {
      const version = await tarballVersion(url, {
        signal: ctx.signal,
        dispatcher: options.transfer.dispatcher,
        stat: gridSourceStat(options.transfer),
      });
      // A URL with no version to tell (no ETag, no commit) is cached by its name: an image is big.
      const key = createHash('sha256')
        .update(`${url}\n${version ?? spec.commit ?? ''}`)
        .digest('hex');
      for (let attempt = 1; ; attempt++) {
        const entry = await cachedEntry(
          imagesDir,
          key,
          redactUrl(url),
          async (tree) => {
            const record = await download(spec, url, key, imagesDir, options, ctx);
            await mkdir(tree, { recursive: true });
            await writeFile(join(tree, RECORD), `${JSON.stringify(record)}\n`);
            return { sha256: record.sha256, ...(version ? { version } : {}) };
          },
          { signal: ctx.signal, logger: ctx.logger },
        );
        const record = JSON.parse(
          await readFile(join(imagesDir, key, TREE_DIR, RECORD), 'utf8'),
        ) as ImageRecord;
        const path = join(imagesDir, 'sha256', `${record.sha256}.sif`);
        if (await stat(path).catch(() => undefined)) {
          return {
            path,
            sha256: record.sha256,
            bytes: record.bytes,
            source: redactUrl(url),
            fromCache: entry.fromCache,
          };
        }
        // The image was cleaned away under its entry: drop the entry and fetch it again, once.
        await rm(join(imagesDir, key), { recursive: true, force: true });
        if (attempt >= 2) throw imageError(spec, url, `the cached image ${path} vanished twice`);
      }
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (err instanceof LrtError && err.code === 'E_CHECKSUM') throw err;
      failures.push(err);
      ctx.logger.warn({ url: redactUrl(url), error: errorMessage(err) }, 'image source failed');
    }
  }
  if (failures.length === 1) throw failures[0];
  throw new LrtError('E_TRANSFER', failures.map(errorMessage).join('; '), {
    details: { image: redactUrl(spec.simg) },
  });
}

/** What master.sh gets, as from the launcher: SIMG the local image, SIMG_COMMIT as the token gave it. */
export function imageEnv(spec: ContainerSpec, image: PulledImage): Record<string, string> {
  return { SIMG: image.path, ...(spec.commit ? { SIMG_COMMIT: spec.commit } : {}) };
}
