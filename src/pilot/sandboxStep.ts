import { prepareSandbox, type SandboxStat } from '../sandbox';
import { checksumUrl, fetchUrl, statUrl, type TransferOptions } from '../transfer';
import type { SandboxPreparer } from './tokenRun';

/** Size, modification time and (where the storage tells it) adler32 of a grid sandbox URL. */
export function gridSourceStat(transfer: TransferOptions | undefined): SandboxStat {
  return async (url, signal) => {
    const options = { ...transfer, signal };
    const info = await statUrl(url, options);
    // Same size in the same minute (gfal-ls dates have minutes) still differs in its checksum.
    const adler32 = await checksumUrl(url, 'adler32', options).catch(() => undefined);
    return {
      size: info.size,
      ...(info.modified ? { modified: info.modified } : {}),
      ...(adler32 ? { adler32 } : {}),
    };
  };
}

/**
 * The pilot's sandbox step: src/sandbox does the node cache (keyed on the tarball's current
 * version, so a replaced tarball is fetched again) and the safe extraction; grid URLs (gsiftp,
 * srm) are downloaded and checked through src/transfer's movers.
 */
export function createSandboxPreparer(options: {
  cacheDir: string;
  transfer?: TransferOptions;
}): SandboxPreparer {
  return async (source, workDir, { signal, logger }) => {
    const result = await prepareSandbox({
      source,
      cacheDir: options.cacheDir,
      jobDir: workDir,
      signal,
      mover: async (url, dest, moverSignal) => {
        await fetchUrl(url, dest, { ...options.transfer, signal: moverSignal ?? signal });
      },
      stat: gridSourceStat(options.transfer),
    });
    logger.info(
      { fromCache: result.fromCache, sha256: result.sha256, version: result.version },
      'sandbox ready',
    );
  };
}
