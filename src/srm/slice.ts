import { countOf, LrtError } from '../core';
import { describeOrigin, type ListEntry, type Origin } from './list';
import {
  DEFAULT_SUBBAND_PATTERN,
  describePattern,
  indexSubbands,
  type SubbandPattern,
  subbandKey,
} from './subbands';
import { quoteLink } from './surl';

/** The SURLs one token processes: subbands start .. start+N-1 that are present. */
export interface Chunk {
  /** Zero-padded start subband (`%03d`): the token's `start_SB` and id suffix. */
  readonly key: string;
  readonly start: number;
  /** Ascending subband order. */
  readonly entries: readonly ListEntry[];
}

/** E_SURL_LIST: `count` SURLs (the first is `first`) name no subband under `pattern`. */
export function missingSubbandError(first: ListEntry, count: number, pattern: SubbandPattern): LrtError {
  const more = count > 1 ? ` (and ${countOf(count - 1, 'more SURL')})` : '';
  return new LrtError(
    'E_SURL_LIST',
    `${describeOrigin(first.origin)}: no subband ${describePattern(pattern)} in the file name of ` +
      `${quoteLink(first.given)}${more}; give the form the file names use with --sb-prefix / --sb-suffix`,
    { details: { ...first.origin, pattern, count } },
  );
}

/** E_SURL_LIST: different SURLs (from `origins`) name the same subband. */
export function duplicateSubbandError(
  subband: number,
  origins: readonly Origin[],
  surls: string[],
): LrtError {
  return new LrtError(
    'E_SURL_LIST',
    `subband ${subband} is named by ${origins.length} different SURLs (${origins
      .map(describeOrigin)
      .join(', ')}); a chunk must hold one SURL per subband`,
    { details: { subband, surls } },
  );
}

/** E_USAGE unless `perToken` (SURLs per token) is a whole number >= 1. */
export function assertPerToken(perToken: number): void {
  if (!Number.isInteger(perToken) || perToken < 1) {
    throw new LrtError('E_USAGE', `SURLs per token must be a whole number >= 1, got ${perToken}`);
  }
}

/** The first subband of the chunk `subband` falls in: chunks are `perToken` wide from `lowest`. */
export function chunkStart(subband: number, lowest: number, perToken: number): number {
  return lowest + Math.floor((subband - lowest) / perToken) * perToken;
}

/**
 * Groups SURLs into chunks of at most `perToken` consecutive subbands, as GRID_LRT's slice_dicts:
 * chunks start at the lowest subband and step by `perToken`; a missing subband leaves a gap (the
 * chunk holds fewer), and chunks left empty by gaps are dropped. Each SURL must name a subband
 * and each subband must appear once (E_SURL_LIST otherwise).
 */
export function sliceBySubband(
  entries: Iterable<ListEntry>,
  perToken: number,
  pattern: SubbandPattern = DEFAULT_SUBBAND_PATTERN,
): Chunk[] {
  assertPerToken(perToken);
  const { bySubband, without } = indexSubbands(entries, pattern);
  if (without.length > 0) throw missingSubbandError(without[0]!, without.length, pattern);
  const lowest = bySubband.keys().next().value;
  if (lowest === undefined) return [];
  const chunks = new Map<number, ListEntry[]>();
  for (const [subband, named] of bySubband) {
    if (named.length > 1)
      throw duplicateSubbandError(
        subband,
        named.map((e) => e.origin),
        named.map((e) => e.surl),
      );
    const start = chunkStart(subband, lowest, perToken);
    const chunk = chunks.get(start);
    if (chunk) chunk.push(named[0]!);
    else chunks.set(start, [named[0]!]);
  }
  // bySubband is ascending, so chunks were created in ascending start order.
  return [...chunks].map(([start, members]) => ({ key: subbandKey(start), start, entries: members }));
}

/** `{key: [SURL, ...]}` for JSON output. */
export function chunksToRecord(chunks: readonly Chunk[]): Record<string, string[]> {
  return Object.fromEntries(chunks.map((c) => [c.key, c.entries.map((e) => e.surl)]));
}
