import { isLrtError } from '../core';
import { gfalLink, parseSurl, type SiteName, type Surl } from '../srm';

/**
 * File locality as SRM reports it in gfal's `user.status` attribute: ONLINE (disk only),
 * NEARLINE (tape only), ONLINE_AND_NEARLINE (both); LOST, UNAVAILABLE and NONE also exist.
 */
export type Locality = 'ONLINE' | 'NEARLINE' | 'ONLINE_AND_NEARLINE' | 'LOST' | 'UNAVAILABLE' | 'NONE';

/** "Staged" means a copy is on disk: ONLINE or ONLINE_AND_NEARLINE. Pure; the pilot uses it. */
export function isStaged(state: string | undefined | null): boolean {
  const s = (state ?? '').trim().toUpperCase();
  return s === 'ONLINE' || s === 'ONLINE_AND_NEARLINE';
}

/** Sites whose SRM answers user.status (the Python tool's check worked there only). */
export const LOCALITY_SITES: readonly SiteName[] = ['sara', 'poznan'];

export function localitySupported(site: SiteName): boolean {
  return LOCALITY_SITES.includes(site);
}

/** What a runner found for one link: the state, or why there is none. */
export interface ProbeOutcome {
  state?: string;
  error?: string;
  /** gfal's errno (2 no such file, 61 no attribute ...) when it gave one. */
  errno?: number;
}

/** Something that asks gfal for `user.status` of many links (gfal-xattr, the gfal2 binding). */
export interface LocalityRunner {
  readonly tool: string;
  run(
    links: readonly string[],
    options: {
      concurrency: number;
      onResult?: (index: number, outcome: ProbeOutcome) => void;
      signal?: AbortSignal;
    },
  ): Promise<ProbeOutcome[]>;
}

export interface FileLocality {
  surl: string;
  site?: SiteName;
  /** The link gfal was asked about. */
  link?: string;
  state?: string;
  staged: boolean;
  error?: string;
  /** The site cannot report locality: nothing was asked. */
  unsupported?: boolean;
}

export interface LocalitySummary {
  total: number;
  staged: number;
  /** Checked and not on disk (NEARLINE and the like). */
  notStaged: number;
  /** Not known: errors and unsupported sites. */
  unknown: number;
  percentStaged: number;
  byState: Record<string, number>;
}

export interface CheckLocalityOptions {
  runner: LocalityRunner;
  /** gfal calls at once (default 8). */
  concurrency?: number;
  /** The link to ask about (default: the gfal link of the SURL). Tests map SURLs to mock:// here. */
  linkOf?: (surl: Surl) => string;
  /** Ask even at sites that are not known to answer. */
  anySite?: boolean;
  onResult?: (result: FileLocality, index: number) => void;
  signal?: AbortSignal;
}

export const DEFAULT_LOCALITY_CONCURRENCY = 8;

/** What commands let tests swap: the link gfal is asked about (mock:// instead of srm://). */
export interface LocalityDeps {
  linkOf?: (surl: Surl) => string;
}

/**
 * The locality of every SURL, in input order, asking gfal through `runner` with bounded
 * concurrency. SURLs at sites that cannot answer are marked `unsupported` without asking; a SURL
 * that does not parse, or a link gfal fails on, gets an `error`. Throws only when the tool itself
 * is missing (E_TOOL_MISSING) or the run is cancelled.
 */
export async function checkLocality(
  surls: readonly string[],
  options: CheckLocalityOptions,
): Promise<FileLocality[]> {
  const results: FileLocality[] = new Array(surls.length);
  const asked: { index: number; link: string }[] = [];
  const linkOf = options.linkOf ?? gfalLink;
  surls.forEach((text, index) => {
    let surl: Surl;
    try {
      surl = parseSurl(text);
    } catch (err) {
      if (!isLrtError(err)) throw err;
      results[index] = { surl: text, staged: false, error: err.message };
      options.onResult?.(results[index]!, index);
      return;
    }
    const base = { surl: surl.surl, site: surl.site };
    if (!options.anySite && !localitySupported(surl.site)) {
      results[index] = { ...base, staged: false, unsupported: true, error: unsupportedMessage(surl.site) };
      options.onResult?.(results[index]!, index);
      return;
    }
    const link = linkOf(surl);
    results[index] = { ...base, link, staged: false };
    asked.push({ index, link });
  });
  if (asked.length > 0) {
    await options.runner.run(
      asked.map((a) => a.link),
      {
        concurrency: options.concurrency ?? DEFAULT_LOCALITY_CONCURRENCY,
        signal: options.signal,
        onResult: (i, outcome) => {
          const index = asked[i]!.index;
          const result = results[index]!;
          if (outcome.state !== undefined) {
            result.state = outcome.state;
            result.staged = isStaged(outcome.state);
          } else {
            result.error = outcome.error ?? 'no state reported';
          }
          options.onResult?.(result, index);
        },
      },
    );
  }
  return results;
}

export function unsupportedMessage(site: SiteName): string {
  return `locality checks are not supported at ${site} (only ${LOCALITY_SITES.join(', ')} report user.status)`;
}

/** Counts per state and the share of files on disk. Pure. */
export function summarizeLocality(results: readonly FileLocality[]): LocalitySummary {
  const byState: Record<string, number> = {};
  let staged = 0;
  let notStaged = 0;
  let unknown = 0;
  for (const r of results) {
    if (r.state === undefined) {
      unknown += 1;
      continue;
    }
    byState[r.state] = (byState[r.state] ?? 0) + 1;
    if (r.staged) staged += 1;
    else notStaged += 1;
  }
  const total = results.length;
  return {
    total,
    staged,
    notStaged,
    unknown,
    percentStaged: total === 0 ? 0 : (100 * staged) / total,
    byState,
  };
}
