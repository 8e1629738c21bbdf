import { formatSeconds, LrtError } from '../core';
import type { StagerClient } from './client';
import { isFinishedStatus, type StageRequest } from './requests';

export interface WaitOptions {
  intervalMs: number;
  timeoutMs: number;
  /** Called after every poll with what the stager said. */
  onPoll?: (status: string, request: StageRequest | undefined) => void;
  sleep?: (ms: number) => Promise<void>;
  clock?: () => number;
}

export interface WaitResult {
  id: number;
  status: string;
  /** From the last progress entry seen (a finished request leaves the list). */
  fileCount: number | undefined;
  /** getstagedurls once finished. */
  online: string[];
  flaggedAbort: boolean;
}

/**
 * Polls getstatus (and getprogress for the file counts) until the request is finished, then asks
 * which SURLs are online. E_TIMEOUT past `timeoutMs`, naming the last status and count.
 */
export async function waitForRequest(
  stager: StagerClient,
  id: number,
  options: WaitOptions,
): Promise<WaitResult> {
  const sleep = options.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  const clock = options.clock ?? Date.now;
  const deadline = clock() + options.timeoutMs;
  let last: StageRequest | undefined;
  let status: string;
  for (;;) {
    status = await stager.status(id);
    const entry = isFinishedStatus(status) ? undefined : (await stager.progress()).find((r) => r.id === id);
    if (entry) last = entry;
    options.onPoll?.(status, entry);
    if (isFinishedStatus(status) || entry?.flaggedAbort) break;
    if (clock() + options.intervalMs > deadline) {
      const files = last ? ` (${last.filesDone}/${last.fileCount} files done)` : '';
      throw new LrtError(
        'E_TIMEOUT',
        `staging request ${id} is still "${status}"${files} after ${formatSeconds(options.timeoutMs)}; ` +
          `'lrt stage wait ${id}' again to keep waiting`,
        { details: { id, status } },
      );
    }
    await sleep(options.intervalMs);
  }
  const online = await stager.stagedSurls(id);
  return { id, status, fileCount: last?.fileCount, online, flaggedAbort: last?.flaggedAbort ?? false };
}
