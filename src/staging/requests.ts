import { LrtError } from '../core';
import { isStruct, type XmlRpcValue } from './xmlrpc';

/** One staging request as `LtaStager.getprogress` reports it. */
export interface StageRequest {
  id: number;
  /** `new`, `scheduled`, `in progress`, `on hold`, `success` ... as the stager says it. */
  status: string;
  fileCount: number;
  filesDone: number;
  percentDone: number;
  /** The LTA site (`sara`, `juelich`, `poznan`). */
  location: string;
  userId: string;
  flaggedAbort: boolean;
}

const INT32_MAX = 2 ** 31 - 1;

/** A request id as typed by a user (`18748`): a positive whole number. Throws E_USAGE. */
export function parseRequestId(text: string): number {
  const trimmed = text.trim();
  const n = Number(trimmed);
  if (!/^\d+$/.test(trimmed) || !Number.isSafeInteger(n) || n > INT32_MAX) {
    throw new LrtError('E_USAGE', `"${text}" is not a staging request id (a whole number such as 18748)`);
  }
  return n;
}

/** The id add_getid answered (an int; some servers send it as a string). */
export function requestIdOf(value: XmlRpcValue): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && /^\d+$/.test(value.trim())) return Number(value.trim());
  throw new LrtError(
    'E_STAGER',
    `the stager answered add_getid with ${JSON.stringify(value)}, not a request id`,
  );
}

function text(value: XmlRpcValue | undefined): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : String(value);
}

function count(value: XmlRpcValue | undefined): number {
  const n = typeof value === 'number' ? value : Number.parseFloat(text(value));
  return Number.isFinite(n) ? n : 0;
}

function flag(value: XmlRpcValue | undefined): boolean {
  if (typeof value === 'boolean') return value;
  return /^(true|1|yes)$/i.test(text(value).trim());
}

/**
 * The requests of a getprogress answer, sorted by id: a struct of id -> `{Status, File count,
 * Files done, Percent done, Location, User id, Flagged abort}` whose values are strings.
 */
export function parseProgress(value: XmlRpcValue): StageRequest[] {
  if (!isStruct(value)) {
    throw new LrtError(
      'E_STAGER',
      `the stager answered getprogress with a ${Array.isArray(value) ? 'list' : typeof value}, not a struct`,
    );
  }
  const out: StageRequest[] = [];
  for (const [key, entry] of Object.entries(value)) {
    if (!/^\d+$/.test(key) || !isStruct(entry)) continue;
    const fileCount = count(entry['File count']);
    const filesDone = count(entry['Files done']);
    const percent = entry['Percent done'];
    out.push({
      id: Number(key),
      status: text(entry.Status),
      fileCount,
      filesDone,
      percentDone:
        percent === undefined ? (fileCount > 0 ? (100 * filesDone) / fileCount : 0) : count(percent),
      location: text(entry.Location),
      userId: text(entry['User id']),
      flaggedAbort: flag(entry['Flagged abort']),
    });
  }
  return out.sort((a, b) => a.id - b.id);
}

/** Statuses after which a request changes no more. */
export const FINISHED_STATUSES = ['success', 'partial success', 'failed', 'aborted'] as const;

export function isFinishedStatus(status: string): boolean {
  return (FINISHED_STATUSES as readonly string[]).includes(status.trim().toLowerCase());
}

/** The SURL list split into add_getid requests: duplicates dropped, one request unless over `max`. */
export function planStageRequests(surls: readonly string[], max: number): string[][] {
  const unique = [...new Set(surls.map((s) => s.trim()).filter((s) => s !== ''))];
  const size = Math.max(1, Math.floor(max));
  const chunks: string[][] = [];
  for (let i = 0; i < unique.length; i += size) chunks.push(unique.slice(i, i + size));
  return chunks;
}

/** `lrt stage list`: ID STATUS FILES PERCENT SITE, one line per request, aligned. */
export function progressTable(requests: readonly StageRequest[]): string[] {
  const header = ['ID', 'STATUS', 'FILES', 'DONE', 'SITE', 'ABORT'];
  const rows = requests.map((r) => [
    String(r.id),
    r.status,
    `${r.filesDone}/${r.fileCount}`,
    `${r.percentDone.toFixed(r.percentDone % 1 === 0 ? 0 : 1)}%`,
    r.location || '-',
    r.flaggedAbort ? 'yes' : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  return [header, ...rows].map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}
