import { constants } from 'node:fs';
import { access, stat, statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { execa } from 'execa';
import type nano from 'nano';
import { errorMessage, redactUrl } from '../core';
import { couchError, type PicasDb, statusOf } from '../picas/client';
import { readClaimDesignDoc, readDesignDoc } from '../picas/designDocStore';
import { type StoredToken, tokenFromDoc } from '../picas/tokenDoc';
import {
  claimDesignDocId,
  designDocId,
  EXPIRED_VIEW,
  OVERVIEW_VIEWS,
  SPREAD_VIEW,
  STATUS_VIEWS,
} from '../picas/viewDefinitions';
import { tokenOverview } from '../picas/viewQuery';
import { statUrl, type TransferOptions } from '../transfer';
import type { CheckResult } from './checkResult';
import { certificateKind, type ProxyFacts, parseVomsInfo } from './proxyKind';
import { sandboxSourceOf } from './sandboxSource';

/** The I/O behind each check of check.ts: reads only, every answer a line of what was seen. */

type Probe = Omit<CheckResult, 'name'>;

/** Rows of a view compared id by id up to this many; above it the counts alone are compared. */
const MAX_COMPARED_ROWS = 20_000;

async function get<T>(picas: PicasDb, path: string, qs: Record<string, unknown> = {}, signal?: AbortSignal) {
  try {
    return (await picas.server.request({
      db: picas.name,
      path,
      qs,
      ...(signal ? { signal } : {}),
    } as nano.RequestOptions)) as T;
  } catch (err) {
    throw couchError(picas, `read ${path || 'the database'} of ${picas.name}`, err);
  }
}

export async function probeDatabase(picas: PicasDb, signal: AbortSignal): Promise<Probe> {
  const where = `${picas.settings.url}/${picas.name}`;
  let info: { doc_count?: number };
  try {
    info = (await picas.server.request({ db: picas.name, signal } as nano.RequestOptions)) as typeof info;
  } catch (err) {
    if (statusOf(err) === 404)
      return { ok: false, detail: `database ${picas.name} does not exist at ${picas.settings.url}` };
    throw couchError(picas, 'open the database', err);
  }
  const who = picas.settings.user ? `user ${picas.settings.user}` : 'anonymous (no credentials)';
  return { ok: true, detail: `reachable as ${who} at ${where} (${info.doc_count ?? '?'} documents)` };
}

export async function probeViews(picas: PicasDb, type: string): Promise<Probe> {
  const ddoc = await readDesignDoc(picas, type);
  const id = designDocId(type);
  const create = `'lrt tokens create --type ${type}' adds the standard views`;
  if (!ddoc) return { ok: false, detail: `${id} does not exist in ${picas.name}: ${create}` };
  const views = Object.keys(ddoc.views ?? {});
  const missing: string[] = STATUS_VIEWS.filter((v) => !views.includes(v));
  if (!OVERVIEW_VIEWS.some((v) => views.includes(v))) missing.push(OVERVIEW_VIEWS[0]);
  if (!views.includes(EXPIRED_VIEW))
    missing.push(`${EXPIRED_VIEW} (tokens of dead pilots are never reclaimed)`);
  if (missing.length > 0) return { ok: false, detail: `${id} lacks ${missing.join(', ')}: ${create}` };
  // On CouchDB a map function is compiled on the first query: ask once so a broken one shows here.
  await get(picas, `_design/${encodeURIComponent(type)}/_view/todo`, { limit: 0 });
  const claim = await readClaimDesignDoc(picas, type);
  const claimFrom = claim?.views?.[SPREAD_VIEW]
    ? `claims read ${SPREAD_VIEW} of ${claimDesignDocId(type)}`
    : `no ${SPREAD_VIEW} in ${claimDesignDocId(type)}: claims read todo (${create})`;
  return { ok: true, detail: `${id} has ${views.sort().join(', ')}; ${claimFrom}` };
}

interface Rows {
  total_rows?: number;
  rows: { id: string }[];
}

async function viewIds(picas: PicasDb, type: string, view: string, qs: Record<string, unknown>) {
  const path = `_design/${encodeURIComponent(type)}/_view/${encodeURIComponent(view)}`;
  const answer = await get<Rows>(picas, path, { ...qs, limit: MAX_COMPARED_ROWS + 1 });
  return answer.rows.map((r) => r.id);
}

/**
 * Counts per state, and the tokens the overview counts as todo that the `todo` view leaves out:
 * a `lock` or `done` that is missing, null or not a number (`"yes"`). No pilot can see those.
 */
export async function probeTokens(picas: PicasDb, type: string): Promise<Probe> {
  const counts = await tokenOverview(picas, type);
  const summary = Object.entries(counts)
    .map(([state, n]) => `${n} ${state}`)
    .join(', ');
  const ddoc = await readDesignDoc(picas, type);
  const overview = OVERVIEW_VIEWS.find((v) => ddoc?.views?.[v]) ?? OVERVIEW_VIEWS[0];
  const counted = await viewIds(picas, type, overview, { reduce: false, key: 'todo' });
  const listed = new Set(await viewIds(picas, type, 'todo', {}));
  if (counted.length > MAX_COMPARED_ROWS || listed.size > MAX_COMPARED_ROWS) {
    return { ok: true, detail: `${summary} (too many todo tokens to compare one by one)` };
  }
  const invisible = counted.filter((id) => !listed.has(id));
  if (invisible.length === 0) return { ok: true, detail: summary };
  const shown =
    invisible.slice(0, 5).join(', ') + (invisible.length > 5 ? `, ... ${invisible.length - 5} more` : '');
  return {
    ok: false,
    detail:
      `${invisible.length} token(s) look free but are not in the todo view, so no pilot claims them ` +
      `(lock or done missing, null or not a number; set both to 0): ${shown}`,
  };
}

/** Whether the sandbox of the next todo token can be fetched: a stat, a HEAD, a `git ls-remote`. */
export async function probeSandbox(
  picas: PicasDb,
  type: string,
  sandboxBase: string,
  transfer: TransferOptions,
): Promise<Probe> {
  const path = `_design/${encodeURIComponent(type)}/_view/todo`;
  const answer = await get<{ rows: { doc?: StoredToken }[] }>(picas, path, {
    include_docs: true,
    limit: 1,
  });
  const row = answer.rows[0];
  if (!row?.doc)
    return { ok: true, skipped: true, detail: `no todo token of type ${type} to take a sandbox from` };
  const doc = tokenFromDoc(row.doc);
  const source = sandboxSourceOf(doc, sandboxBase);
  if (source.kind === 'git') {
    const run = await execa('git', ['ls-remote', '--exit-code', source.url, source.branch ?? 'HEAD'], {
      reject: false,
      stdin: 'ignore',
      env: { GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', LC_ALL: 'C' },
      ...(transfer.signal ? { cancelSignal: transfer.signal } : {}),
    });
    const url = redactUrl(source.url);
    if (run.exitCode === 0) return { ok: true, detail: `git ${url} of token ${doc._id} answers` };
    const why =
      String(run.stderr ?? '')
        .trim()
        .split('\n')
        .at(-1) || `exit ${run.exitCode ?? run.signal}`;
    return { ok: false, detail: `git ${url} of token ${doc._id}: ${why}` };
  }
  try {
    const found = await statUrl(source.url, transfer);
    return { ok: true, detail: `${found.url} of token ${doc._id} is there (${found.size} bytes)` };
  } catch (err) {
    return { ok: false, detail: `the sandbox of token ${doc._id}: ${errorMessage(err)}` };
  }
}

/** The first executable file named `tool` on `path`. */
export async function findOnPath(tool: string, path: string): Promise<string | undefined> {
  for (const dir of path.split(':')) {
    const candidate = resolve(dir || '.', tool);
    try {
      const info = await stat(candidate);
      if (!info.isFile()) continue;
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function lastLine(text: unknown): string {
  return (
    String(text ?? '')
      .trim()
      .split('\n')
      .at(-1) ?? ''
  );
}

/** Seconds until the proxy ends (negative: ended that long ago), or what keeps it from being read. */
export async function probeProxy(
  file: string,
  transfer: TransferOptions,
  isDefault: boolean,
  signal: AbortSignal,
): Promise<{ secondsLeft: number } | { problem: string; missing?: true }> {
  let mode: number;
  try {
    mode = (await stat(file)).mode;
  } catch {
    return {
      problem: isDefault
        ? `no proxy: X509_USER_PROXY is not set and ${file} does not exist`
        : `${file} (X509_USER_PROXY) does not exist`,
      missing: true,
    };
  }
  if ((mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8);
    return { problem: `${file} is readable by others (mode ${octal}): grid tools refuse it; chmod 600 it` };
  }
  const env = transfer.certDir ? { X509_CERT_DIR: transfer.certDir } : {};
  const common = { reject: false, stdin: 'ignore', env, cancelSignal: signal } as const;
  const info = await execa('grid-proxy-info', ['-timeleft', '-file', file], common);
  const left = Number(String(info.stdout).trim());
  if (info.exitCode === 0 && Number.isInteger(left) && left > 0) return { secondsLeft: left };
  // Expired (grid-proxy-info says -1) or no grid-proxy-info: the end date says how long ago.
  const x509 = await execa('openssl', ['x509', '-noout', '-enddate', '-in', file], common);
  const end = /notAfter=(.+)/.exec(String(x509.stdout))?.[1];
  if (x509.exitCode === 0 && end && Number.isFinite(Date.parse(end))) {
    return { secondsLeft: Math.round((Date.parse(end) - Date.now()) / 1000) };
  }
  if (info.exitCode === 0 && Number.isInteger(left)) return { secondsLeft: left };
  const why =
    lastLine(info.stderr) || lastLine(x509.stderr) || 'neither grid-proxy-info nor openssl could read it';
  return { problem: `cannot read the lifetime of ${file}: ${why}` };
}

/** Free bytes for an unprivileged user where the job dirs go (the nearest existing folder). */
export async function probeDisk(workDir: string): Promise<{ dir: string; free: number }> {
  let dir = resolve(workDir);
  for (;;) {
    try {
      const fs = await statfs(dir);
      return { dir, free: fs.bavail * fs.bsize };
    } catch (err) {
      const parent = dirname(dir);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === dir) throw err;
      dir = parent;
    }
  }
}

/**
 * What kind of certificate the proxy file holds (openssl) and its VOMS attributes
 * (voms-proxy-info -all, when installed; only asked of a proxy).
 */
export async function probeProxyKind(
  file: string,
  transfer: TransferOptions,
  signal: AbortSignal,
): Promise<ProxyFacts> {
  const env = transfer.certDir ? { X509_CERT_DIR: transfer.certDir } : {};
  const common = { reject: false, stdin: 'ignore', env, cancelSignal: signal } as const;
  const x509 = await execa(
    'openssl',
    ['x509', '-noout', '-subject', '-issuer', '-nameopt', 'compat', '-text', '-in', file],
    common,
  );
  const kind = x509.exitCode === 0 ? certificateKind(String(x509.stdout)) : undefined;
  if (kind === undefined || kind === 'plain' || kind === 'self-signed') return { kind, voms: undefined };
  const info = await execa('voms-proxy-info', ['-all', '-file', file], common);
  const code = (info as { code?: string }).code;
  if (code === 'ENOENT' || code === 'EACCES') return { kind, voms: undefined };
  // A proxy without attributes: exit 0 and no VO section. A failure (no trusted CA dir, say)
  // says nothing either way.
  if (info.exitCode !== 0)
    return { kind, voms: undefined, vomsProblem: lastLine(info.stderr) || `exit ${info.exitCode}` };
  return { kind, voms: parseVomsInfo(String(info.stdout)) };
}
