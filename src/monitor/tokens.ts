import { couchError, type PicasDb, type TokenDoc } from '../picas/client';
import { attemptsOf } from '../picas/protocol';
import { queryView, type ResolvedView, resolveView } from '../picas/viewQuery';
import { chooseLogs } from './logs';
import { failingToken } from './report';

/** One row of the token table of `lrt serve`. */
export interface TokenRow {
  id: string;
  /** The overview state (todo, a running phase, done, error ...). */
  state: string;
  status: string;
  attempts: number;
  scrubCount: number;
  host: string;
  progress?: number;
  exit?: number;
  lastError?: string;
  /** Log attachments of the latest attempt. */
  logs: string[];
}

export function tokenRow(doc: TokenDoc, state: string): TokenRow {
  const failed = state === 'error' ? failingToken(doc) : undefined;
  const progress =
    typeof doc.progress === 'number' && Number.isFinite(doc.progress) ? doc.progress : undefined;
  const exit = typeof doc.exit_code === 'number' ? doc.exit_code : failed?.exit;
  return {
    id: doc._id,
    state,
    status: typeof doc.status === 'string' ? doc.status : '',
    attempts: attemptsOf(doc).length,
    scrubCount: Number(doc.scrub_count) || 0,
    host: typeof doc.hostname === 'string' ? doc.hostname : '',
    ...(progress !== undefined ? { progress } : {}),
    ...(exit !== undefined ? { exit } : {}),
    ...(failed ? { lastError: failed.message } : {}),
    logs: chooseLogs(doc).names,
  };
}

export interface TokenPage {
  rows: TokenRow[];
  skip: number;
  limit: number;
  /** Rows matching (all tokens of the type, or those in `state`). */
  total: number;
}

/**
 * A page of tokens through `overview_total` with reduce=false: every token of the type, keyed by
 * its state, so one view gives the whole table and `key` filters by state.
 */
export async function readTokenPage(
  picas: PicasDb,
  type: string,
  options: { state?: string; skip?: number; limit?: number } = {},
): Promise<TokenPage> {
  const skip = Math.max(0, options.skip ?? 0);
  const limit = Math.min(500, Math.max(1, options.limit ?? 100));
  const resolved = await resolveView(picas, type, 'overview_total');
  const params: Record<string, unknown> = { include_docs: true, skip, limit };
  if (options.state) params.key = options.state;
  const answer = await queryView(picas, resolved, params);
  const total = options.state ? await stateCount(picas, resolved, options.state) : (answer.total_rows ?? 0);
  const rows = answer.rows
    .filter((r) => r.doc)
    .map((r) => tokenRow(r.doc!, typeof r.key === 'string' ? r.key : String(r.key)));
  return { rows, skip, limit, total };
}

/** Tokens in one state, through the reduce (total_rows would count the whole view). */
async function stateCount(picas: PicasDb, overview: ResolvedView, state: string): Promise<number> {
  try {
    const answer = (await picas.db.view(overview.designDoc, overview.view, {
      key: state,
      group: true,
    })) as unknown as { rows: { value: unknown }[] };
    return Number(answer.rows[0]?.value ?? 0) || 0;
  } catch (err) {
    throw couchError(picas, `count ${state} tokens of type ${overview.type}`, err);
  }
}
