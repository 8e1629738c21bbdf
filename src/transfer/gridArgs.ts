import { LrtError } from '../core';
import { normalizeAdler32 } from './adler32';
import type { TransferOptions } from './types';

function positiveInt(name: string, value: number, min: number): string {
  if (!Number.isInteger(value) || value < min) {
    throw new LrtError('E_USAGE', `${name} must be an integer >= ${min}, got ${value}`);
  }
  return String(value);
}

/** globus-url-copy options shared by a single copy and a list of copies. */
function copyOptionArgs(options: TransferOptions): string[] {
  const args: string[] = [];
  // -cred: as root, an /etc/grid-security/hostcert.pem would otherwise be presented instead.
  if (options.proxy) args.push('-cred', options.proxy);
  if (options.parallel !== undefined && options.parallel > 1) {
    args.push('-p', positiveInt('parallel', options.parallel, 1));
  }
  if (options.restartRetries !== undefined && options.restartRetries > 0) {
    args.push('-rst', '-rst-retries', positiveInt('restartRetries', options.restartRetries, 1));
  }
  if (options.stallTimeoutSeconds !== undefined) {
    args.push('-stall-timeout', positiveInt('stallTimeoutSeconds', options.stallTimeoutSeconds, 1));
  }
  if (options.createDirs) args.push('-cd');
  return args;
}

/** globus-url-copy arguments for one copy from `src` to `dst` (both URLs). */
export function globusUrlCopyArgs(src: string, dst: string, options: TransferOptions): string[] {
  return [...copyOptionArgs(options), src, dst];
}

/**
 * globus-url-copy arguments for the copies listed in `listFile` (`-f`, see copyListLine): one
 * process whose control connection (and GSI session) serves file after file. `-fast` (MODE E)
 * keeps the data connection too, instead of a new one with its own GSI handshake per file: twice
 * as fast for 20 MB files in bench/stage-in. `-c` carries on past a failed copy.
 */
export function globusUrlCopyListArgs(listFile: string, options: TransferOptions): string[] {
  return [...copyOptionArgs(options), '-fast', '-c', '-f', listFile];
}

/** A line of a globus-url-copy `-f` list; undefined for URLs that cannot be quoted there. */
export function copyListLine(src: string, dst: string): string | undefined {
  if (/["\r\n]/.test(src) || /["\r\n]/.test(dst)) return undefined;
  return `"${src}" "${dst}"`;
}

/** `gfal-ls -l -d` lists the entry itself: `-rw-r--r--   1 0  0   5 Nov 25 10:34 gsiftp://...`. */
export function parseGfalLsLine(
  stdout: string,
): { size: number; isDirectory: boolean; modified?: string } | undefined {
  for (const line of stdout.split(/\r?\n/)) {
    // the date as ls prints it: `Nov 25 10:30` (this year) or `Jan  2  2020` (older)
    const m =
      /^([-dlbcps])[-rwxsStT]{9}\S*\s+\d+\s+\S+\s+\S+\s+(\d+)\s+(?:([A-Z][a-z]{2}\s+\d+\s+[\d:]+)\s)?/.exec(
        line,
      );
    if (m) {
      const entry = { size: Number(m[2]), isDirectory: m[1] === 'd' };
      return m[3] ? { ...entry, modified: m[3].replace(/\s+/g, ' ') } : entry;
    }
  }
  return undefined;
}

/** `gfal-sum URL ADLER32` prints `URL 084b021f`; the checksum is the last field. */
export function parseGfalSum(stdout: string): string | undefined {
  const lines = stdout.trim().split(/\r?\n/);
  const last = lines[lines.length - 1]?.trim().split(/\s+/).pop();
  return last === undefined ? undefined : normalizeAdler32(last);
}
