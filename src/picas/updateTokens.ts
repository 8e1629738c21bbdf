import { createHash } from 'node:crypto';
import { LrtError } from '../core';
import { type BulkUpdateOptions, type BulkUpdateReport, bulkUpdate } from './bulkUpdate';
import type { PicasDb } from './client';
import type { Patched, Skipped } from './protocol';
import { isPositive } from './protocol/leaseRecord';
import { idsSource, type SourceOptions, typeSource, viewSource } from './sources';
import { type AttachmentStub, type TokenDoc, tokenFromDoc, tokenToDoc } from './tokenDoc';
import { type AttachmentInput, assertAttachmentName } from './tokens';

/*
 * `lrt tokens update`: change fields and attachments of existing tokens in bulk, through
 * bulkUpdate (each write carries the `_rev` read; a 409 re-reads the token and patches it again,
 * so whatever another writer changed in between survives). Protocol fields have their own
 * commands (set-status, reset), and a token a pilot is running is left alone unless asked.
 */

/** Fields the protocol owns: changed only by claim/finish/reset/set-status, never by hand. */
const PROTOCOL_FIELDS = ['type', 'lock', 'done', 'lease', 'status', 'scrub_count', 'attempts'];

export interface FieldChanges {
  set: Record<string, unknown>;
  unset: string[];
  attachments: AttachmentInput[];
}

/** Refuses a change that names a protocol or CouchDB field, or the same field twice. Pure. */
export function assertFieldChanges(changes: FieldChanges): void {
  const named = [...Object.keys(changes.set), ...changes.unset];
  for (const field of named) {
    const why =
      field === ''
        ? 'the field name is empty'
        : field.startsWith('_')
          ? "names starting with '_' are CouchDB's"
          : PROTOCOL_FIELDS.includes(field)
            ? field === 'status'
              ? "the protocol owns it: use 'lrt tokens set-status' or 'lrt tokens reset'"
              : 'the protocol owns it'
            : undefined;
    if (why) throw new LrtError('E_USAGE', `cannot change field "${field}": ${why}`, { details: { field } });
  }
  const twice = named.find((f, i) => named.indexOf(f) !== i);
  if (twice) throw new LrtError('E_USAGE', `field "${twice}" is both set and unset (or given twice)`);
  for (const att of changes.attachments) assertAttachmentName(att.name);
  if (named.length === 0 && changes.attachments.length === 0) {
    throw new LrtError('E_USAGE', 'nothing to change: give --set K=V, --unset K or --attach FILE');
  }
}

const md5Digest = (data: Buffer) => `md5-${createHash('md5').update(data).digest('base64')}`;

/** A token a pilot holds right now (claimed, not finished). */
export function isRunning(doc: TokenDoc): boolean {
  return isPositive(doc.lock) && !isPositive(doc.done);
}

/** The patch of one token: the changes applied, or skipped when they change nothing. Pure. */
export function fieldsPatch(changes: FieldChanges, options: { includeRunning?: boolean } = {}) {
  const encoded = changes.attachments.map((a) => ({
    name: a.name,
    digest: md5Digest(a.data),
    inline: { content_type: a.contentType, data: a.data.toString('base64') },
  }));
  return (doc: TokenDoc): Patched | Skipped => {
    if (!options.includeRunning && isRunning(doc)) {
      return { skip: `token ${doc._id} is being run by a pilot (--include-running changes it anyway)` };
    }
    // Fields are named as on the wire: known or the user's own, the same to `--set` and `--unset`.
    const before = tokenToDoc(doc);
    const next = { ...before };
    let changed = false;
    for (const [field, value] of Object.entries(changes.set)) {
      if (JSON.stringify(before[field]) === JSON.stringify(value)) continue;
      next[field] = structuredClone(value);
      changed = true;
    }
    for (const field of changes.unset) {
      if (!Object.hasOwn(before, field)) continue;
      delete next[field];
      changed = true;
    }
    const stubs = doc._attachments ?? {};
    const replaced = encoded.filter(
      (a) => (stubs[a.name] as AttachmentStub | undefined)?.digest !== a.digest,
    );
    if (replaced.length > 0) {
      next._attachments = { ...stubs, ...Object.fromEntries(replaced.map((a) => [a.name, a.inline])) };
      changed = true;
    }
    return changed ? { doc: tokenFromDoc(next) } : { skip: `token ${doc._id} already has these values` };
  };
}

export type TokenSelection = { view: string } | { ids: string[] } | { all: true };

export interface UpdateOptions extends BulkUpdateOptions, SourceOptions {
  includeRunning?: boolean;
}

/** Applies `changes` to the selected tokens of `type`; see bulkUpdate for the report. */
export async function updateTokens(
  picas: PicasDb,
  type: string,
  selection: TokenSelection,
  changes: FieldChanges,
  options: UpdateOptions = {},
): Promise<BulkUpdateReport> {
  assertFieldChanges(changes);
  const byIds = 'ids' in selection ? idsSource(picas, type, selection.ids, options) : undefined;
  const source =
    byIds ??
    ('view' in selection
      ? await viewSource(picas, type, selection.view, options)
      : typeSource(picas, type, options));
  const patch = fieldsPatch(changes, { includeRunning: options.includeRunning });
  const report = await bulkUpdate(picas, source, patch, options);
  for (const id of byIds?.missing ?? []) {
    report.failed.push({
      id,
      error: `no token of type ${type} with this id in ${picas.name}`,
      notFound: true,
    });
  }
  return report;
}
