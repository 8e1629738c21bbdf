import { tailFile } from './tailFile';

/** Only the end of the file is read: payloads may append status lines for days. */
const STATUS_TAIL_BYTES = 4096;

/** The last non-empty line of `text`, trimmed; undefined when there is none. */
export function lastStatusLine(text: string): string | undefined {
  const lines = text.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]?.trim();
    if (line) return line;
  }
  return undefined;
}

export interface StatusWatcher {
  /** Stops polling, reads the file once more (the payload may have written just before exit). */
  stop(): Promise<string | undefined>;
  last(): string | undefined;
}

/**
 * Polls the payload's status file ($PILOT_STATUS_FILE) and calls `onStatus` with each new last
 * line. Polling, not fs.watch: fs.watch misses writes on NFS and other network file systems.
 * `onStatus` must not throw; what it throws is ignored so a logging bug cannot stop the payload.
 */
export function watchStatusFile(
  path: string,
  onStatus: ((line: string) => void) | undefined,
  intervalMs = 1000,
): StatusWatcher {
  let last: string | undefined;
  let inFlight: Promise<void> | undefined;

  const check = async () => {
    let line: string | undefined;
    try {
      line = lastStatusLine(await tailFile(path, STATUS_TAIL_BYTES));
    } catch {
      return; // unreadable right now (being replaced, permissions): try again next tick
    }
    if (line === undefined || line === last) return;
    last = line;
    try {
      onStatus?.(line);
    } catch {
      // see the doc comment
    }
  };
  const tick = () => {
    if (inFlight) return;
    inFlight = check().finally(() => {
      inFlight = undefined;
    });
  };

  const timer = setInterval(tick, intervalMs);
  timer.unref?.();
  tick();

  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
      await check();
      return last;
    },
    last: () => last,
  };
}
