import { errorMessage, formatSeconds, isLrtError, LrtError, mapWithConcurrency } from '../core';
import { readAttachment } from '../picas/attachments';
import { couchError, type PicasDb, statusOf } from '../picas/client';
import { nextConflictRound } from '../picas/conflictRounds';
import { writeSettled } from '../picas/protocol';
import { typeSource } from '../picas/sources';
import { type TokenDoc, tokenFromDoc, tokenToDoc } from '../picas/tokenDoc';
import { assertTokenType } from '../picas/viewDefinitions';
import { type ResolvedView, viewPages } from '../picas/viewQuery';
import { rowTokens } from '../picas/viewRead';
import { parseSurl, SRM_ATTACHMENT, type Surl } from '../srm';
import type { StagerClient } from './client';
import { STAGING_STATUS, surlLines } from './gatedTokens';
import { checkLocality, type LocalityRunner } from './locality';
import { releasePatch, requestIdsOf, tokenReadiness } from './releasePatch';

export type ReleaseVia = 'stager' | 'gfal';

export interface ReleaseOptions {
  /** Ask the stager (getstagedurls of the tokens' requests) or gfal (user.status of each SURL). */
  via: ReleaseVia;
  stager?: StagerClient;
  runner?: LocalityRunner;
  linkOf?: (surl: Surl) => string;
  anySite?: boolean;
  /** Attachment reads and gfal calls at once (default 8). */
  concurrency?: number;
  attachmentName?: string;
  /** Epoch seconds (default: now). */
  now?: () => number;
  /** Staging tokens read, checked and released at a time (default 500). */
  pageSize?: number;
}

export interface TokenWait {
  id: string;
  surls: number;
  online: number;
}

export interface ReleaseReport {
  /** Tokens found in staging at the start of the pass. */
  staging: number;
  released: string[];
  /** Still waiting for data. */
  waiting: TokenWait[];
  /** Could not be decided (no srm.txt, stager fault, unsupported site ...). */
  unknown: { id: string; reason: string }[];
  /** Changed by someone else before we could release them (claimed, reset, deleted). */
  skipped: { id: string; reason: string }[];
}

/** Staging tokens read, checked and released at a time. */
const STAGING_PAGE = 500;

function normalizeSurl(text: string): string {
  try {
    return parseSurl(text).surl;
  } catch {
    return text.trim();
  }
}

/** A free token in staging of the type: what a pass may release. */
function isReleasable(doc: TokenDoc, type: string): boolean {
  return doc.type === type && doc.status === STAGING_STATUS && doc.lock === 0 && doc.done === 0;
}

/**
 * The type's free tokens in staging, a page at a time: the `staging` rows of `overview_total`
 * walked by key (viewPages), else, without the view (tokens made by other tools), every document
 * by id. A page is released before the next is read, so a pass holds one page, not the campaign.
 */
export async function* stagingTokenPages(
  picas: PicasDb,
  type: string,
  pageSize = STAGING_PAGE,
): AsyncGenerator<TokenDoc[]> {
  assertTokenType(type);
  const overview: ResolvedView = { type, view: 'overview_total', designDoc: type, reduce: true };
  let walked = false;
  try {
    for await (const page of viewPages(picas, overview, {
      key: STAGING_STATUS,
      includeDocs: true,
      pageSize,
    })) {
      walked = true;
      const docs = rowTokens(page.rows).filter((d) => isReleasable(d, type));
      if (docs.length > 0) yield docs;
    }
    return;
  } catch (err) {
    // A view removed half-way is an error: a scan now would go over released pages again.
    if (walked || !isLrtError(err, 'E_VIEW_NOT_FOUND')) throw err;
  }
  // No view (tokens made by other tools): every document of the type, by id.
  for await (const page of typeSource(picas, type, { pageSize }).pages()) {
    const docs = page.docs.filter((d) => isReleasable(d, type));
    if (docs.length > 0) yield docs;
  }
}

/** The type's tokens that are in staging and free, all pages (for small types and tests). */
export async function listStagingTokens(picas: PicasDb, type: string): Promise<TokenDoc[]> {
  const docs: TokenDoc[] = [];
  for await (const page of stagingTokenPages(picas, type)) docs.push(...page);
  return docs;
}

/** Moves one token to todo; re-reads and tries again on 409. */
export async function releaseToken(
  picas: PicasDb,
  id: string,
  now: number,
): Promise<{ released: true } | { released: false; reason: string }> {
  for (let round = 1; ; round++) {
    let doc: TokenDoc;
    try {
      doc = tokenFromDoc(await picas.db.get(id));
    } catch (err) {
      if (statusOf(err) === 404) return { released: false, reason: 'the token was deleted' };
      throw couchError(picas, `read token ${id}`, err);
    }
    const patch = releasePatch(doc, now);
    if ('reason' in patch) return { released: false, reason: patch.reason };
    try {
      await writeSettled(picas, tokenToDoc(patch.doc));
      return { released: true };
    } catch (err) {
      if (statusOf(err) === 409 && (await nextConflictRound(round))) continue;
      throw couchError(picas, `release token ${id} to todo`, err);
    }
  }
}

type Surls = { doc: TokenDoc; surls: string[] } | { doc: TokenDoc; reason: string };

async function tokenSurls(picas: PicasDb, docs: TokenDoc[], options: ReleaseOptions): Promise<Surls[]> {
  const name = options.attachmentName ?? SRM_ATTACHMENT;
  return mapWithConcurrency(docs, options.concurrency ?? 8, async (doc) => {
    if (!doc._attachments?.[name]) return { doc, reason: `no ${name} attachment` };
    try {
      const surls = surlLines((await readAttachment(picas, doc._id, name)).data.toString('utf8'));
      return surls.length > 0 ? { doc, surls } : { doc, reason: `${name} holds no SURLs` };
    } catch (err) {
      if (isLrtError(err, 'E_TOKEN_NOT_FOUND') || isLrtError(err, 'E_ATTACHMENT'))
        return { doc, reason: err.message };
      throw err;
    }
  });
}

/** SURL -> online, from the stager: one getstagedurls per distinct request and pass. */
async function onlineByStager(
  tokens: { doc: TokenDoc; surls: string[] }[],
  stager: StagerClient,
  answers: StagerAnswers,
): Promise<{ online: Set<string>; failed: Map<number, string> }> {
  const requests = [...new Set(tokens.flatMap((t) => requestIdsOf(t.doc)))];
  const online = new Set<string>();
  const failed = new Map<number, string>();
  for (const id of requests) {
    let answer = answers.get(id);
    if (!answer) {
      try {
        answer = { staged: (await stager.stagedSurls(id)).map(normalizeSurl) };
      } catch (err) {
        if (!isLrtError(err, 'E_STAGER_FAULT')) throw err;
        answer = { fault: err.message };
      }
      answers.set(id, answer);
    }
    if ('fault' in answer) failed.set(id, answer.fault);
    else for (const surl of answer.staged) online.add(surl);
  }
  return { online, failed };
}

/** SURL -> staged, from gfal: every distinct SURL once. */
async function onlineByGfal(
  tokens: { doc: TokenDoc; surls: string[] }[],
  options: ReleaseOptions,
): Promise<{ online: Set<string>; errors: Map<string, string> }> {
  const surls = [...new Set(tokens.flatMap((t) => t.surls.map(normalizeSurl)))];
  const results = await checkLocality(surls, {
    runner: options.runner!,
    concurrency: options.concurrency,
    linkOf: options.linkOf,
    anySite: options.anySite,
  });
  const online = new Set<string>();
  const errors = new Map<string, string>();
  for (const r of results) {
    if (r.staged) online.add(r.surl);
    else if (r.error) errors.set(r.surl, r.error);
  }
  return { online, errors };
}

/**
 * One pass of `lrt stage release`: finds the type's tokens in staging, reads each one's SURLs
 * (srm.txt), asks the stager or gfal which are online, and moves every token whose SURLs are all
 * online to `todo` (conflict-aware). Tokens that cannot be decided are reported, never released.
 */
export async function releaseStagedTokens(
  picas: PicasDb,
  type: string,
  options: ReleaseOptions,
): Promise<ReleaseReport> {
  if (options.via === 'stager' && !options.stager)
    throw new LrtError('E_USAGE', 'release via the stager needs a stager client');
  if (options.via === 'gfal' && !options.runner)
    throw new LrtError('E_USAGE', 'release via gfal needs a locality runner');
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const report: ReleaseReport = { staging: 0, released: [], waiting: [], unknown: [], skipped: [] };
  // The stager's answer for a request is the same on every page of the pass: asked once.
  const stagerAnswers: StagerAnswers = new Map();
  for await (const docs of stagingTokenPages(picas, type, options.pageSize)) {
    report.staging += docs.length;
    await releasePage(picas, docs, options, now(), stagerAnswers, report);
  }
  return report;
}

/** What the stager said of each request in this pass: its staged SURLs, or its fault. */
type StagerAnswers = Map<number, { staged: string[] } | { fault: string }>;

/** One page of a pass: reads the SURLs, asks which are online, releases the ready tokens. */
async function releasePage(
  picas: PicasDb,
  docs: TokenDoc[],
  options: ReleaseOptions,
  at: number,
  stagerAnswers: StagerAnswers,
  report: ReleaseReport,
): Promise<void> {
  const withSurls: { doc: TokenDoc; surls: string[] }[] = [];
  for (const t of await tokenSurls(picas, docs, options)) {
    if ('reason' in t) report.unknown.push({ id: t.doc._id, reason: t.reason });
    else withSurls.push(t);
  }
  if (withSurls.length === 0) return;

  let isOnline: (surl: string) => boolean;
  let whyUnknown: (t: { doc: TokenDoc; surls: string[] }) => string | undefined;
  if (options.via === 'stager') {
    const { online, failed } = await onlineByStager(withSurls, options.stager!, stagerAnswers);
    isOnline = (s) => online.has(normalizeSurl(s));
    whyUnknown = (t) => {
      const ids = requestIdsOf(t.doc);
      if (ids.length === 0) return 'the token names no staging request (use --via gfal)';
      const faults = ids.filter((id) => failed.has(id));
      return faults.length === ids.length ? failed.get(faults[0]!) : undefined;
    };
  } else {
    const { online, errors } = await onlineByGfal(withSurls, options);
    isOnline = (s) => online.has(normalizeSurl(s));
    whyUnknown = (t) => t.surls.map((s) => errors.get(normalizeSurl(s))).find((e) => e !== undefined);
  }

  const ready: string[] = [];
  for (const t of withSurls) {
    const { online, ready: go } = tokenReadiness(t.surls, isOnline);
    if (go) {
      ready.push(t.doc._id);
      continue;
    }
    const why = whyUnknown(t);
    if (why) report.unknown.push({ id: t.doc._id, reason: why });
    else report.waiting.push({ id: t.doc._id, surls: t.surls.length, online });
  }
  const outcomes = await mapWithConcurrency(ready, options.concurrency ?? 8, async (id) => ({
    id,
    outcome: await releaseToken(picas, id, at),
  }));
  for (const { id, outcome } of outcomes) {
    if (outcome.released) report.released.push(id);
    else report.skipped.push({ id, reason: outcome.reason });
  }
}

/** One line for a pass: `released 1, waiting 4 (12/40 files online), undecided 1`. Pure. */
export function describeReleasePass(r: ReleaseReport): string {
  const online = r.waiting.reduce((n, w) => n + w.online, 0);
  const files = r.waiting.reduce((n, w) => n + w.surls, 0);
  return (
    `released ${r.released.length}, waiting ${r.waiting.length}` +
    (r.waiting.length ? ` (${online}/${files} files online)` : '') +
    (r.unknown.length ? `, undecided ${r.unknown.length}` : '') +
    (r.skipped.length ? `, changed meanwhile ${r.skipped.length}` : '')
  );
}

export interface WatchOptions extends ReleaseOptions {
  intervalMs: number;
  timeoutMs: number;
  onPass?: (report: ReleaseReport, pass: number) => void;
  /** Injected so tests do not sleep for real; resolves after `ms`. */
  sleep?: (ms: number) => Promise<void>;
  clock?: () => number;
}

/** `--watch`: passes until no token of the type is left in staging; E_TIMEOUT past the limit. */
export async function watchRelease(
  picas: PicasDb,
  type: string,
  options: WatchOptions,
): Promise<ReleaseReport[]> {
  const sleep = options.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  const clock = options.clock ?? Date.now;
  const deadline = clock() + options.timeoutMs;
  const passes: ReleaseReport[] = [];
  for (let pass = 1; ; pass++) {
    const report = await releaseStagedTokens(picas, type, options);
    passes.push(report);
    options.onPass?.(report, pass);
    const left = report.waiting.length + report.unknown.length;
    if (left === 0) return passes;
    if (clock() + options.intervalMs > deadline) {
      const released = passes.reduce((n, p) => n + p.released.length, 0);
      throw new LrtError(
        'E_TIMEOUT',
        `${left} token(s) of type ${type} still staging after ${formatSeconds(options.timeoutMs)} ` +
          `(${released} released meanwhile)` +
          (report.unknown[0]
            ? `; e.g. ${report.unknown[0].id}: ${errorMessage(report.unknown[0].reason)}`
            : ''),
        { details: { type, left, released } },
      );
    }
    await sleep(options.intervalMs);
  }
}
