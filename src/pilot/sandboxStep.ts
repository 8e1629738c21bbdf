import { prepareSandbox } from '../sandbox';
import { fetchUrl, type TransferOptions } from '../transfer';
import type { SandboxPreparer } from './tokenRun';

/**
 * The pilot's sandbox step: src/sandbox does the node cache and the safe extraction, grid URLs
 * (gsiftp, srm) are downloaded through src/transfer's movers.
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
    });
    logger.info({ fromCache: result.fromCache, sha256: result.sha256 }, 'sandbox ready');
  };
}
