import type { ListEntry } from './list';

/** How the subband number is found in a file name: the digits between prefix and suffix. */
export interface SubbandPattern {
  prefix: string;
  suffix: string;
}

/** `..._SB100_uv.dppp.MS_3d78b8f1.tar` -> 100 */
export const DEFAULT_SUBBAND_PATTERN: SubbandPattern = Object.freeze({ prefix: 'SB', suffix: '_' });

/**
 * The forms LOFAR file names use, tried in this order when no pattern is given:
 * `L229507_SB100_uv.dppp.MS.tar` (SB<digits>_) and `instruments_L261539_SB216.tar` (SB<digits>.).
 */
export const KNOWN_SUBBAND_PATTERNS: readonly SubbandPattern[] = Object.freeze([
  DEFAULT_SUBBAND_PATTERN,
  Object.freeze({ prefix: 'SB', suffix: '.' }),
]);

/**
 * The known form that finds a subband in the most file names (the earlier form on a tie); the
 * default form when none finds any.
 */
export function detectSubbandPattern(entries: Iterable<ListEntry>): SubbandPattern {
  const paths = [...entries].map((e) => e.path);
  return mostFound(
    KNOWN_SUBBAND_PATTERNS.map(
      (pattern) => paths.filter((path) => subbandOf(path, pattern) !== undefined).length,
    ),
  );
}

/**
 * The known form with the most file names found (`found[i]` for KNOWN_SUBBAND_PATTERNS[i]); the
 * earlier form on a tie, the default form when none finds any.
 */
export function mostFound(found: readonly number[]): SubbandPattern {
  let best = DEFAULT_SUBBAND_PATTERN;
  let bestCount = 0;
  KNOWN_SUBBAND_PATTERNS.forEach((pattern, i) => {
    const count = found[i] ?? 0;
    if (count > bestCount) {
      best = pattern;
      bestCount = count;
    }
  });
  return best;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function describePattern(pattern: SubbandPattern): string {
  return `${pattern.prefix}<digits>${pattern.suffix}`;
}

/** The subband number in the file name (last path segment) of a link, if the pattern matches. */
export function subbandOf(
  link: string,
  pattern: SubbandPattern = DEFAULT_SUBBAND_PATTERN,
): number | undefined {
  const name = link.slice(link.lastIndexOf('/') + 1);
  const re = new RegExp(`${escapeRegExp(pattern.prefix)}(\\d+)${escapeRegExp(pattern.suffix)}`);
  const digits = re.exec(name)?.[1];
  return digits === undefined ? undefined : Number.parseInt(digits, 10);
}

/** The chunk key GRID_LRT used: the start subband, zero-padded to three digits (`%03d`). */
export function subbandKey(subband: number): string {
  return String(subband).padStart(3, '0');
}

export interface SubbandIndex {
  /** Entries per subband, ascending subband order. */
  bySubband: Map<number, ListEntry[]>;
  /** Entries whose file name does not match the pattern. */
  without: ListEntry[];
}

export function indexSubbands(
  entries: Iterable<ListEntry>,
  pattern: SubbandPattern = DEFAULT_SUBBAND_PATTERN,
): SubbandIndex {
  const found = new Map<number, ListEntry[]>();
  const without: ListEntry[] = [];
  for (const entry of entries) {
    const sb = subbandOf(entry.path, pattern);
    if (sb === undefined) {
      without.push(entry);
      continue;
    }
    const same = found.get(sb);
    if (same) same.push(entry);
    else found.set(sb, [entry]);
  }
  const bySubband = new Map([...found.entries()].sort(([a], [b]) => a - b));
  return { bySubband, without };
}

export interface SubbandRange {
  from: number;
  to: number;
}

export interface SubbandSummary {
  /** Lowest and highest subband; undefined when no file name matched. */
  first: number | undefined;
  last: number | undefined;
  /** Distinct subbands found. */
  count: number;
  /** Gaps between first and last, as ranges. */
  missing: SubbandRange[];
  missingCount: number;
  /** Subbands named by more than one SURL. */
  duplicated: number[];
  /** How many SURLs have no subband under the pattern. */
  withoutSubband: number;
}

export function summarizeSubbands(
  entries: Iterable<ListEntry>,
  pattern: SubbandPattern = DEFAULT_SUBBAND_PATTERN,
): SubbandSummary {
  const { bySubband, without } = indexSubbands(entries, pattern);
  const subbands = [...bySubband.keys()];
  const missing: SubbandRange[] = [];
  for (let i = 1; i < subbands.length; i++) {
    const prev = subbands[i - 1]!;
    const next = subbands[i]!;
    if (next > prev + 1) missing.push({ from: prev + 1, to: next - 1 });
  }
  return {
    first: subbands[0],
    last: subbands[subbands.length - 1],
    count: subbands.length,
    missing,
    missingCount: missing.reduce((n, r) => n + r.to - r.from + 1, 0),
    duplicated: subbands.filter((sb) => (bySubband.get(sb)?.length ?? 0) > 1),
    withoutSubband: without.length,
  };
}

/** `105-107, 110` */
export function formatRanges(ranges: readonly SubbandRange[]): string {
  return ranges.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`)).join(', ');
}
