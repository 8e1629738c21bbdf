import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';

/** What a lock file holds: who took it, so others can tell a live holder from a dead one. */
export interface LockInfo {
  pid: number;
  host: string;
  nonce: string;
  created: number;
}

export interface LockTiming {
  /** A lock whose file was not refreshed for this long is stale (default 10 min). */
  staleMs?: number;
  /** Injected for tests. */
  host?: string;
  now?: () => number;
}

export const DEFAULT_LOCK_STALE_MS = 10 * 60_000;
/** A lock file without readable content: its writer died between create and write. */
const UNREADABLE_STALE_MS = 30_000;

/** Alive, and not a zombie nobody reaps (PID 1 in some containers never does). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

function parseInfo(text: string): LockInfo | undefined {
  try {
    const info = JSON.parse(text) as Partial<LockInfo>;
    if (typeof info.pid === 'number' && typeof info.host === 'string' && typeof info.nonce === 'string') {
      return { pid: info.pid, host: info.host, nonce: info.nonce, created: Number(info.created) || 0 };
    }
  } catch {
    // fall through: unreadable
  }
  return undefined;
}

/** A held lock: refreshed while held so waiters do not take it for stale. */
export class CacheLock {
  private readonly timer: NodeJS.Timeout;

  private constructor(
    readonly path: string,
    readonly info: LockInfo,
    refreshMs: number,
  ) {
    this.timer = setInterval(() => {
      const now = new Date();
      utimes(this.path, now, now).catch(() => undefined);
    }, refreshMs);
    this.timer.unref();
  }

  /** Creates the lock file with O_EXCL; undefined when someone else holds it. */
  static async tryAcquire(path: string, timing: LockTiming = {}): Promise<CacheLock | undefined> {
    const info: LockInfo = {
      pid: process.pid,
      host: timing.host ?? hostname(),
      nonce: randomBytes(8).toString('hex'),
      created: (timing.now ?? Date.now)(),
    };
    try {
      await writeFile(path, `${JSON.stringify(info)}\n`, { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
      throw err;
    }
    const staleMs = timing.staleMs ?? DEFAULT_LOCK_STALE_MS;
    return new CacheLock(path, info, Math.max(50, Math.floor(staleMs / 4)));
  }

  /** Removes the lock file if it is still ours (it may have been broken as stale). */
  async release(): Promise<void> {
    clearInterval(this.timer);
    const current = await readFile(this.path, 'utf8').catch(() => '');
    if (parseInfo(current)?.nonce === this.info.nonce) await unlink(this.path).catch(() => undefined);
  }
}

export interface StaleLock {
  reason: string;
  /** The content judged stale; undefined when unreadable. */
  nonce: string | undefined;
}

/**
 * Why the lock at `path` may be broken, or undefined while its holder looks alive (or the
 * lock is gone). Dead pid only counts on the same host: the cache dir may be shared.
 */
export async function staleLock(path: string, timing: LockTiming = {}): Promise<StaleLock | undefined> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, { mtimeMs }] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
  } catch {
    return undefined;
  }
  const now = (timing.now ?? Date.now)();
  const age = now - mtimeMs;
  const info = parseInfo(text);
  if (!info) {
    return age > Math.min(UNREADABLE_STALE_MS, timing.staleMs ?? DEFAULT_LOCK_STALE_MS)
      ? { reason: `unreadable lock file, ${Math.round(age / 1000)} s old`, nonce: undefined }
      : undefined;
  }
  if (info.host === (timing.host ?? hostname()) && !pidAlive(info.pid)) {
    return { reason: `holder pid ${info.pid} is gone`, nonce: info.nonce };
  }
  const staleMs = timing.staleMs ?? DEFAULT_LOCK_STALE_MS;
  if (age > staleMs) {
    return {
      reason: `not refreshed for ${Math.round(age / 1000)} s (pid ${info.pid} on ${info.host})`,
      nonce: info.nonce,
    };
  }
  return undefined;
}

/**
 * Removes a stale lock, but only the one judged stale: it is first renamed away (atomic, one
 * breaker wins) and put back if a new holder had taken its place meanwhile.
 */
export async function breakLock(path: string, stale: StaleLock): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch {
    return; // gone already: another waiter broke it
  }
  const text = await readFile(aside, 'utf8').catch(() => '');
  if (parseInfo(text)?.nonce !== stale.nonce) {
    await link(aside, path).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}
