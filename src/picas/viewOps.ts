import { LrtError } from '../core';
import { type BulkUpdateOptions, type BulkUpdateReport, bulkUpdate } from './bulkUpdate';
import type { PicasDb } from './client';
import { deleteDesignDocById, readDesignDocById } from './designDocStore';
import { finishedDesignDocId } from './finishedViews';
import { type DropAttachments, deletePatch, leaseOf, resetPatch, setStatusPatch } from './protocol';
import { type SourceOptions, typeSource, viewSource } from './sources';
import type { TokenDoc } from './tokenDoc';
import { claimDesignDocId, customDesignDocId, designDocId } from './viewDefinitions';

/*
 * GRID_LRT's login-side token operations (set_view_to_status, reset_tokens, delete_tokens,
 * purge_tokens) on top of bulkUpdate: batched, `_rev`-guarded, 409s re-read and re-decided.
 */

export interface ViewOpOptions extends BulkUpdateOptions, SourceOptions {
  /** Epoch seconds (default: the system clock), read once per operation. */
  now?: () => number;
}

function nowOf(options: ViewOpOptions): number {
  return options.now ? options.now() : Math.floor(Date.now() / 1000);
}

const STATUS_MAX = 200;

export function assertStatusName(status: string): void {
  const why =
    status === ''
      ? 'it is empty'
      : status.length > STATUS_MAX
        ? `it is longer than ${STATUS_MAX} characters`
        : /[\x00-\x1f\x7f]/.test(status)
          ? 'it contains control characters'
          : undefined;
  if (why) throw new LrtError('E_USAGE', `invalid status ${JSON.stringify(status)}: ${why}`);
}

/** Sets `status` on every token of the view (`locked` also locks, `todo` frees: see setStatusPatch). */
export async function setViewStatus(
  picas: PicasDb,
  type: string,
  view: string,
  status: string,
  options: ViewOpOptions = {},
): Promise<BulkUpdateReport> {
  assertStatusName(status);
  const source = await viewSource(picas, type, view, options);
  const now = nowOf(options);
  return bulkUpdate(picas, source, (doc) => setStatusPatch(doc, status, now), options);
}

export interface ResetViewOptions extends ViewOpOptions {
  dropAttachments?: DropAttachments;
  /**
   * When given, tokens a pilot may still be running are left alone and passed here: claimed and
   * not finished, under a lease that has not expired at `now` (or with no lease at all, as older
   * tools lock them, so nobody can tell). Without it every token of the view is reset.
   */
  spareHeld?: (doc: TokenDoc, why: string) => void;
}

/** Why a pilot may still hold `doc` at `now` (epoch s), or undefined when nobody can. */
export function heldByPilot(doc: TokenDoc, now: number): string | undefined {
  const claimed = Number(doc.lock) > 0 && !(Number(doc.done) > 0);
  if (!claimed) return undefined;
  const lease = leaseOf(doc);
  if (!lease) return 'locked without a lease (by an older tool): a pilot may still run it';
  if (typeof lease.expires !== 'number') return `leased to pilot ${lease.pilot} on ${lease.host}`;
  if (lease.expires <= now) return undefined;
  return `leased to pilot ${lease.pilot} on ${lease.host} for ${lease.expires - now} s more`;
}

/** Resets every token of the view to `todo` with scrub_count+1 (see resetPatch). */
export async function resetView(
  picas: PicasDb,
  type: string,
  view: string,
  options: ResetViewOptions = {},
): Promise<BulkUpdateReport> {
  const source = await viewSource(picas, type, view, options);
  const now = nowOf(options);
  const dropAttachments = options.dropAttachments ?? 'none';
  const spare = options.spareHeld;
  return bulkUpdate(
    picas,
    source,
    (doc) => {
      const held = spare ? heldByPilot(doc, now) : undefined;
      if (held === undefined) return resetPatch(doc, { now, dropAttachments });
      spare!(doc, held);
      return { skip: `token ${doc._id} is ${held}` };
    },
    options,
  );
}

/** Deletes the tokens of the view (never a document of another type a custom view lets through). */
export async function deleteView(
  picas: PicasDb,
  type: string,
  view: string,
  options: ViewOpOptions = {},
): Promise<BulkUpdateReport> {
  const source = await viewSource(picas, type, view, options);
  return bulkUpdate(
    picas,
    source,
    (doc) => (doc.type === type ? deletePatch(doc) : { skip: `${doc._id} is not a token of type ${type}` }),
    options,
  );
}

export type DesignDocOutcome = 'deleted' | 'absent' | 'would-delete' | 'kept';

export interface PurgeReport extends BulkUpdateReport {
  /** `kept` when some tokens could not be deleted: without it they would vanish from every view. */
  designDoc: DesignDocOutcome;
  /** The claim's `_design/claim:<type>`: deleted with `_design/<type>`, kept with it. */
  claimDesignDoc: DesignDocOutcome;
}

/** What purging does to a design document when the tokens are gone (or not). */
async function purgeDesignDoc(
  picas: PicasDb,
  id: string,
  report: BulkUpdateReport,
): Promise<DesignDocOutcome> {
  if (report.dryRun) return (await readDesignDocById(picas, id)) ? 'would-delete' : 'absent';
  // Tokens left (refused, or not reached before an interrupt) would vanish from every view.
  if (report.failed.length > 0 || report.interrupted) return 'kept';
  return deleteDesignDocById(picas, id);
}

/**
 * GRID_LRT's purge_tokens: deletes every token of the type, found through `_all_docs` (views may
 * be gone), then `_design/<type>`, the claim's `_design/claim:<type>`, `_design/finished:<type>`
 * and the custom views' `_design/views:<type>`. pouchdb-server has no `_purge`, so this deletes (tombstones).
 */
export async function purgeType(
  picas: PicasDb,
  type: string,
  options: ViewOpOptions = {},
): Promise<PurgeReport> {
  const report = await bulkUpdate(picas, typeSource(picas, type, options), deletePatch, options);
  const designDoc = await purgeDesignDoc(picas, designDocId(type), report);
  const claimDesignDoc = await purgeDesignDoc(picas, claimDesignDocId(type), report);
  await purgeDesignDoc(picas, finishedDesignDocId(type), report);
  await purgeDesignDoc(picas, customDesignDocId(type), report);
  return { ...report, designDoc, claimDesignDoc };
}
