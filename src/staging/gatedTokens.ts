import { LrtError } from '../core';
import { type BulkCreateOptions, bulkCreateTokens, type CreateReport } from '../picas/bulkCreate';
import { couchError, type PicasDb } from '../picas/client';
import type { TokenStaging } from '../picas/tokenDoc';
import { buildTokenDoc, type NewToken } from '../picas/tokens';
import { SRM_ATTACHMENT } from '../srm';
import type { StageOptions, StagerClient } from './client';

/** The token field that ties a token to its staging requests. */
export const STAGING_FIELD = 'staging';
export const STAGING_STATUS = 'staging';

/** The SURLs in a text attachment: one a line, blank lines and `#` comments skipped. Pure. */
export function surlLines(text: string): string[] {
  return text
    .split(/\r\n|\n|\r/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** The SURLs a new token will carry in its `srm.txt` (or `attachmentName`). Pure. */
export function surlsOfNewToken(token: NewToken, attachmentName = SRM_ATTACHMENT): string[] {
  const attachment = token.attachments?.find((a) => a.name === attachmentName);
  return attachment ? surlLines(attachment.data.toString('utf8')) : [];
}

/**
 * The token as it must be created while its data is on tape: status `staging` (so the `todo`
 * view leaves it out), the request ids in `staging`, the time in `times.staging`. Pure.
 */
export function markStaging(token: NewToken, requests: readonly number[], now: number): NewToken {
  const fields = token.fields ?? {};
  const times =
    typeof fields.times === 'object' && fields.times !== null ? (fields.times as Record<string, number>) : {};
  const staging: TokenStaging = { requests: [...requests], submitted: now };
  return {
    ...token,
    fields: {
      ...fields,
      status: STAGING_STATUS,
      [STAGING_FIELD]: staging,
      times: { ...times, staging: now },
    },
  };
}

export interface GatedCreateOptions extends BulkCreateOptions, StageOptions {
  stager: StagerClient;
  attachmentName?: string;
  /** Epoch seconds (default: now). */
  now?: () => number;
}

export interface GatedCreateReport extends CreateReport {
  /** Staging request ids submitted for the new tokens (empty when every token existed). */
  requests: number[];
  /** Distinct SURLs submitted. */
  surls: number;
}

const KEYS_PER_REQUEST = 1000;

/** The ids among `ids` that exist (not deleted) in the database: one POST _all_docs per 1000. */
async function existingIds(picas: PicasDb, ids: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < ids.length; i += KEYS_PER_REQUEST) {
    const keys = ids.slice(i, i + KEYS_PER_REQUEST);
    let rows: { key?: string; id?: string; error?: string; value?: { deleted?: boolean } }[];
    try {
      rows = (await picas.db.fetchRevs({ keys })).rows as typeof rows;
    } catch (err) {
      throw couchError(picas, `look up tokens in ${picas.name}`, err);
    }
    for (const row of rows) if (!row.error && row.id && !row.value?.deleted) found.add(row.id);
  }
  return found;
}

/**
 * `lrt tokens create --stage`: submits ONE staging request (chunked only above the stager's size
 * limit) for the SURLs of the tokens that do not exist yet, then creates those tokens with status
 * `staging` and the request ids. Existing tokens are left alone and their SURLs are not staged
 * again, so re-running sends no new request (and no new e-mails) for them.
 */
export async function submitAndMarkStaging(
  picas: PicasDb,
  type: string,
  tokens: NewToken[],
  options: GatedCreateOptions,
): Promise<GatedCreateReport> {
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const attachment = options.attachmentName ?? SRM_ATTACHMENT;
  const existing = await existingIds(
    picas,
    tokens.map((t) => t.id),
  );
  const fresh = tokens.filter((t) => !existing.has(t.id));
  const skipped = tokens.filter((t) => existing.has(t.id)).map((t) => t.id);
  if (fresh.length === 0) {
    const counts = { created: 0, existing: skipped.length, failed: 0 };
    return { created: [], existing: skipped, failed: [], counts, requests: [], surls: 0 };
  }

  const without = fresh.filter((t) => surlsOfNewToken(t, attachment).length === 0).map((t) => t.id);
  if (without.length > 0) {
    throw new LrtError(
      'E_USAGE',
      `--stage: ${without.length} token(s) carry no SURLs in ${attachment} (${without.slice(0, 3).join(', ')}${without.length > 3 ? ', ...' : ''}): ` +
        'staging needs tokens made from a SURL list (--srm FILE)',
    );
  }
  // Every check that could refuse a token runs before the request that sends e-mails.
  if (new Set(fresh.map((t) => t.id)).size !== fresh.length)
    throw new LrtError('E_USAGE', 'token ids given more than once');
  for (const t of fresh) buildTokenDoc(type, markStaging(t, [], 0));
  const surls = [...new Set(fresh.flatMap((t) => surlsOfNewToken(t, attachment)))];
  const requests = await options.stager.stage(surls, { notify: options.notify });
  const at = now();
  const marked = fresh.map((t) => markStaging(t, requests, at));
  let report: CreateReport;
  try {
    report = await bulkCreateTokens(picas, type, marked, options);
  } catch (err) {
    const base = err instanceof LrtError ? err : couchError(picas, `create tokens in ${picas.name}`, err);
    throw new LrtError(
      base.code,
      `${base.message}; staging request(s) ${requests.join(', ')} were already submitted: ` +
        `re-run to create the missing tokens, or 'lrt stage abort ID' to cancel`,
      { cause: base, details: { ...base.details, requests } },
    );
  }
  const counts = { ...report.counts, existing: skipped.length + report.counts.existing };
  return { ...report, existing: [...skipped, ...report.existing], counts, requests, surls: surls.length };
}
