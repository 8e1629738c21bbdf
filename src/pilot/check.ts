import { durationInWords, errorMessage, LrtError, withTimeout } from '../core';
import { openPicas } from '../picas/client';
import type { PicasSettings } from '../picas/connectionSettings';
import { isIndexTimeout } from '../picas/dbRetry';
import { describeIndexBuilds, type IndexBuilds, readIndexBuilds } from '../picas/indexBuild';
import { TOOL_PACKAGES, type TransferOptions } from '../transfer';
import {
  findOnPath,
  probeDatabase,
  probeDisk,
  probeProxy,
  probeProxyKind,
  probeSandbox,
  probeTokens,
  probeViews,
} from './checkProbes';
import type { CheckResult } from './checkResult';
import { type ProxyFacts, VOMS_PROXY_INIT } from './proxyKind';
import type { PilotSettings } from './settings';

/*
 * The preflight of `pilot --check` and `lrt doctor`: each check looks, writes nothing and claims
 * nothing, and says what it saw in one line. A check that could not run (no database, no type)
 * is reported as skipped, never as passed.
 */

export const CHECK_NAMES = ['database', 'views', 'tokens', 'sandbox', 'tools', 'proxy', 'disk'] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

export const CHECK_TOOLS = ['globus-url-copy', 'gfal-copy', 'git'] as const;
export const DEFAULT_MIN_FREE_BYTES = 10 * 1024 ** 3;

/** Debian packages of the tools the pilot runs, for the hint on a missing one. */
export const CHECK_TOOL_PACKAGES: Record<string, string> = {
  'globus-url-copy': TOOL_PACKAGES['globus-url-copy'],
  'gfal-copy': TOOL_PACKAGES['gfal-ls'],
  git: 'git',
};

export interface PreflightSettings {
  /** Undefined with `error` when the PiCaS settings could not be resolved. */
  picas: PicasSettings | { error: string };
  /** Token type; without one the views, tokens and sandbox checks are skipped. */
  type?: string;
  workDir: string;
  sandboxBase: string;
  transfer: TransferOptions;
  /** Seconds the run will take (the walltime), to compare the proxy lifetime against. */
  expectedRunSeconds?: number;
  minFreeBytes: number;
  /** The PATH the tools are looked up in. */
  path: string;
  /** Where the proxy is when X509_USER_PROXY is not set: /tmp/x509up_u<uid>. */
  defaultProxy: string;
  skip?: readonly string[];
  /** Each probe gives up after this long (default 30 s). */
  timeoutMs?: number;
  now?: () => number;
}

// ---------------------------------------------------------------- pure: wording and verdicts

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** `10G`, `500M`, `1.5T`, `4096` (bytes), binary units. */
export function parseSize(text: string, option: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)i?B?\s*$/i.exec(text);
  if (!m) throw new LrtError('E_USAGE', `${option} must be a size (e.g. 500M, 10G, 1T), got "${text}"`);
  const power = ' KMGTP'.indexOf((m[2] || ' ').toUpperCase());
  return Math.round(Number(m[1]) * 1024 ** power);
}

export function proxyVerdict(
  file: string,
  secondsLeft: number,
  expectedRunSeconds: number | undefined,
): Omit<CheckResult, 'name'> {
  if (secondsLeft <= 0) {
    const ago = secondsLeft < 0 ? ` ${durationInWords(-secondsLeft)} ago` : '';
    return { ok: false, detail: `${file} expired${ago}: run ${VOMS_PROXY_INIT}` };
  }
  if (expectedRunSeconds === undefined) {
    return {
      ok: true,
      detail: `${file} valid for ${durationInWords(secondsLeft)} (no walltime given to compare)`,
    };
  }
  const needs = `the run needs ${durationInWords(expectedRunSeconds)}`;
  if (secondsLeft < expectedRunSeconds) {
    return {
      ok: false,
      detail: `${file} expires in ${durationInWords(secondsLeft)}, ${needs}: run ${VOMS_PROXY_INIT}`,
    };
  }
  return { ok: true, detail: `${file} valid for ${durationInWords(secondsLeft)}, ${needs}` };
}

/**
 * The verdict on the kind and the VOMS attributes, after the lifetime check passed: a plain or
 * self-signed certificate fails, a proxy without VOMS attributes fails, attributes that end
 * before the run does fail; each says what to run. Legacy and draft proxies pass with a note.
 */
export function proxyKindVerdict(
  file: string,
  facts: ProxyFacts,
  expectedRunSeconds: number | undefined,
): Omit<CheckResult, 'name'> & { notes: string[] } {
  const notes: string[] = [];
  const { kind, voms } = facts;
  if (kind === 'plain' || kind === 'self-signed') {
    return {
      ok: false,
      detail: `${file} is a ${kind === 'self-signed' ? 'self-signed' : 'plain'} certificate, not a grid proxy: run ${VOMS_PROXY_INIT}`,
      notes,
    };
  }
  if (kind === undefined) notes.push('its kind was not checked (openssl could not read it)');
  if (kind === 'rfc3820') notes.push('RFC 3820 proxy');
  if (kind === 'legacy' || kind === 'draft') {
    notes.push(
      `a ${kind === 'legacy' ? 'legacy Globus' : 'pre-RFC draft'} proxy: services that want RFC 3820 refuse it (${VOMS_PROXY_INIT} makes one)`,
    );
  }
  if (voms === undefined) {
    if (facts.vomsProblem) notes.push(`VOMS attributes not checked (voms-proxy-info: ${facts.vomsProblem})`);
    else if (kind !== undefined) notes.push('VOMS attributes not checked (voms-proxy-info not installed)');
    return { ok: true, detail: '', notes };
  }
  if (voms.length === 0) {
    return { ok: false, detail: `${file} carries no VOMS attributes: run ${VOMS_PROXY_INIT}`, notes };
  }
  for (const ac of voms) {
    const fqan = ac.fqans[0] ?? `/${ac.vo}`;
    if (ac.secondsLeft <= 0) {
      return {
        ok: false,
        detail: `the VOMS attributes of ${ac.vo} in ${file} have expired: run ${VOMS_PROXY_INIT}`,
        notes,
      };
    }
    if (expectedRunSeconds !== undefined && ac.secondsLeft < expectedRunSeconds) {
      return {
        ok: false,
        detail: `the VOMS attributes of ${ac.vo} in ${file} end in ${durationInWords(ac.secondsLeft)}, the run needs ${durationInWords(expectedRunSeconds)}: run ${VOMS_PROXY_INIT}`,
        notes,
      };
    }
    notes.push(`VOMS ${fqan} for ${durationInWords(ac.secondsLeft)}`);
  }
  return { ok: true, detail: '', notes };
}

export function diskVerdict(dir: string, freeBytes: number, minFreeBytes: number): Omit<CheckResult, 'name'> {
  const detail = `${formatBytes(freeBytes)} free in ${dir} (need ${formatBytes(minFreeBytes)})`;
  return { ok: freeBytes >= minFreeBytes, detail };
}

export function toolsVerdict(found: Record<string, string | undefined>): Omit<CheckResult, 'name'> {
  const missing = Object.entries(found).filter(([, path]) => !path);
  if (missing.length === 0) {
    return {
      ok: true,
      detail: Object.entries(found)
        .map(([tool, path]) => `${tool} (${path})`)
        .join(', '),
    };
  }
  const hints = missing.map(([tool]) => `${tool} not on PATH (Debian: ${CHECK_TOOL_PACKAGES[tool] ?? tool})`);
  return { ok: false, detail: hints.join('; ') };
}

export function formatCheck(result: CheckResult): string {
  const mark = result.skipped ? 'skip' : result.ok ? 'ok' : 'FAIL';
  return `${mark.padEnd(5)}${result.name.padEnd(10)}${result.detail}`;
}

export function preflightPassed(results: readonly CheckResult[]): boolean {
  return results.every((r) => r.ok || r.skipped);
}

/** The checks that read views: a view index being built stops them. */
const VIEW_CHECKS: ReadonlySet<string> = new Set(['views', 'tokens', 'sandbox']);

/**
 * The verdict of a view check whose read met an index being built (`answered`: the server said
 * "timeout"; else the read was still held when the check's time ran out, and `/_active_tasks`
 * lists a build): not a failure, the database is fine. `views` passes (the definitions were
 * checked before the read); `tokens` and `sandbox` cannot look yet and are skipped. Undefined when
 * nothing shows a build: the generic failure stands. Pure.
 */
export function indexBuildVerdict(
  name: string,
  found: IndexBuilds,
  answered: boolean,
): Omit<CheckResult, 'name'> | undefined {
  if (!answered && found.builds.length === 0) return undefined;
  const why = answered
    ? 'the server answered "timeout" while it builds'
    : 'the view read is held while it builds';
  const detail =
    `a view index is being built (${describeIndexBuilds(found)}; ${why}): not an error of your ` +
    'database; view reads wait until it is built, pilots wait and keep their work';
  return name === 'views'
    ? { ok: true, detail, indexBuild: found }
    : { ok: true, skipped: true, detail: `cannot look yet: ${detail}`, indexBuild: found };
}

// ---------------------------------------------------------------- running them

const skipped = (name: string, detail: string): CheckResult => ({ name, ok: true, skipped: true, detail });

/** Runs every check not in `skip`, in order; never throws (a probe's error is its FAIL line). */
export async function runPreflight(settings: PreflightSettings): Promise<CheckResult[]> {
  const skip = new Set(settings.skip ?? []);
  const ms = settings.timeoutMs ?? 30_000;
  const results: CheckResult[] = [];
  // Each probe gets its own time: the signal stops the tools and requests it started.
  const run = async (name: CheckName, probe: (signal: AbortSignal) => Promise<Omit<CheckResult, 'name'>>) => {
    if (skip.has(name)) return undefined;
    let result: CheckResult;
    let timedOut = false;
    try {
      result = {
        name,
        ...(await withTimeout(probe(AbortSignal.timeout(ms)), ms, () => {
          timedOut = true;
          return new Error(`${name}: no answer within ${durationInWords(ms / 1000)}`);
        })),
      };
    } catch (err) {
      // A view read the server gave up on (rule 19), or one still held when the check's time ran
      // out: a view index being built, when the server says so.
      const build =
        picas && VIEW_CHECKS.has(name) && (isIndexTimeout(err) || timedOut)
          ? await readIndexBuilds(picas, AbortSignal.timeout(10_000)).catch(() => undefined)
          : undefined;
      const verdict = build && indexBuildVerdict(name, build, isIndexTimeout(err));
      result = verdict ? { name, ...verdict } : { name, ok: false, detail: errorMessage(err) };
    }
    results.push(result);
    return result;
  };

  const picasSettings = settings.picas;
  // A view read answered "timeout" is reported, never waited out (fetchView would wait).
  const picas = 'error' in picasSettings ? undefined : { ...openPicas(picasSettings), indexWaitMs: 0 };
  const db = await run('database', async (signal) => {
    if (!picas) return { ok: false, detail: (picasSettings as { error: string }).error };
    return probeDatabase(picas, signal);
  });
  const type = settings.type;
  let views: CheckResult | undefined;
  for (const name of ['views', 'tokens', 'sandbox'] as const) {
    if (skip.has(name)) continue;
    if (!picas || (db && !db.ok)) results.push(skipped(name, 'the database check failed'));
    else if (!type) results.push(skipped(name, 'no token type given (--type)'));
    else if (name === 'views') views = await run(name, () => probeViews(picas, type));
    // Counting and sandbox reads go through those views: one cause, one FAIL.
    else if (views && !views.ok) results.push(skipped(name, 'the views check failed'));
    else if (name === 'tokens') await run(name, () => probeTokens(picas, type));
    else
      await run(name, (signal) =>
        probeSandbox(picas, type, settings.sandboxBase, { ...settings.transfer, signal }),
      );
  }
  await run('tools', async () => {
    const found: Record<string, string | undefined> = {};
    for (const tool of CHECK_TOOLS) found[tool] = await findOnPath(tool, settings.path);
    return toolsVerdict(found);
  });
  await run('proxy', async (signal) => {
    const file = settings.transfer.proxy ?? settings.defaultProxy;
    const left = await probeProxy(file, settings.transfer, !settings.transfer.proxy, signal);
    if ('problem' in left) {
      // No proxy at all: say how to make one, as the other proxy failures do.
      return { ok: false, detail: left.missing ? `${left.problem}: run ${VOMS_PROXY_INIT}` : left.problem };
    }
    const lifetime = proxyVerdict(file, left.secondsLeft, settings.expectedRunSeconds);
    if (!lifetime.ok) return lifetime;
    const facts = await probeProxyKind(file, settings.transfer, signal);
    const kind = proxyKindVerdict(file, facts, settings.expectedRunSeconds);
    if (!kind.ok) return { ok: false, detail: kind.detail };
    return { ok: true, detail: [lifetime.detail, ...kind.notes].join('; ') };
  });
  await run('disk', async () => {
    const { dir, free } = await probeDisk(settings.workDir);
    return diskVerdict(dir, free, settings.minFreeBytes);
  });
  return results;
}

/** Lines (or `--json`) on `out`; the exit code: 0 when nothing failed, else 1. */
export function reportPreflight(
  results: readonly CheckResult[],
  json: boolean,
  out: { write(text: string): unknown },
): number {
  const passed = preflightPassed(results);
  if (json) out.write(`${JSON.stringify({ ok: passed, checks: results }, null, 2)}\n`);
  else for (const result of results) out.write(`${formatCheck(result)}\n`);
  return passed ? 0 : 1;
}

/** The proxy file Globus tools use when X509_USER_PROXY is not set. */
export function defaultProxyPath(): string {
  return `/tmp/x509up_u${process.getuid?.() ?? 0}`;
}

/** `pilot --check`: the preflight with the pilot's own settings; the walltime is the expected run. */
export async function runPilotCheck(
  settings: PilotSettings,
  env: Record<string, string | undefined>,
  out: { write(text: string): unknown },
): Promise<number> {
  const now = Date.now();
  const results = await runPreflight({
    picas: settings.picas,
    type: settings.type,
    workDir: settings.workDir,
    sandboxBase: settings.sandboxBase,
    transfer: settings.transfer,
    ...(settings.walltimeEnd !== undefined
      ? { expectedRunSeconds: Math.max(0, (settings.walltimeEnd - now) / 1000) }
      : {}),
    minFreeBytes: DEFAULT_MIN_FREE_BYTES,
    path: env.PATH ?? '',
    defaultProxy: defaultProxyPath(),
  });
  return reportPreflight(results, settings.json, out);
}
