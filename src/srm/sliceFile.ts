import { LrtError } from '../core';
import { checkSameList, type ListEntry, type Origin, parseListLink } from './list';
import { linkOfLine, SurlLineReader, surlListFileLines } from './parseFile';
import type { SiteName } from './sites';
import { duplicateSubbandError, missingSubbandError } from './slice';
import { KNOWN_SUBBAND_PATTERNS, mostFound, type SubbandPattern, subbandKey, subbandOf } from './subbands';
import { parseSurl } from './surl';

/*
 * A SURL list file cut into chunks (sliceBySubband's rules) without holding the list: a campaign's
 * list has up to a million lines, and the SURL objects of a parsed list take some 600 bytes each.
 * The file is read twice (three times when different lines name the same subband): the first pass
 * checks every line and keeps only numbers (subband and line of each SURL, 12 bytes a SURL); the
 * last pass reads the SURLs again and hands out each chunk as soon as its lines have been read.
 * A list in subband order (as the LTA writes them) holds at most one chunk at a time; lines out of
 * order wait until their chunk is complete.
 */

/** One token's share of the list: start subband, and the subbands and SURLs in subband order. */
export interface SlicedChunk {
  /** Zero-padded start subband: the token's STARTSB and id suffix. */
  key: string;
  start: number;
  subbands: number[];
  surls: string[];
}

export interface SurlListSlices {
  source: string;
  obsid: string;
  site: SiteName;
  pattern: SubbandPattern;
  /** SURLs kept (a SURL given twice counts once). */
  surlCount: number;
  duplicatesDropped: number;
  chunkCount: number;
  /** The key of the first chunk. */
  firstKey: string;
  /** The planned chunk that holds `subband`, if any. */
  chunkOf(subband: number): { key: string; subbands: number[] } | undefined;
  /** The chunks in ascending start order, read from the file again. */
  chunks(): AsyncGenerator<SlicedChunk>;
}

export interface SliceFileOptions {
  perToken: number;
  /** The subband form; default: the known form found in the most file names. */
  pattern?: SubbandPattern;
}

/** A growing array of numbers: 8 bytes a value instead of a JS array's boxed entries. */
class NumberColumn {
  #data = new Float64Array(1024);
  length = 0;
  push(value: number): void {
    if (this.length === this.#data.length) {
      const bigger = new Float64Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.length++] = value;
  }
  get(index: number): number {
    return this.#data[index]!;
  }
  values(): Float64Array {
    return this.#data.subarray(0, this.length);
  }
}

/** What the first pass finds under one subband form. */
interface FormScan {
  pattern: SubbandPattern;
  subbands: NumberColumn;
  lines: NumberColumn;
  without: number;
  firstWithout?: ListEntry;
}

async function forEachLine(path: string, shownAs: string, each: (raw: string, line: number) => void) {
  let line = 0;
  for await (const raw of surlListFileLines(path, shownAs)) each(raw, ++line);
  return line;
}

function linkAt(raw: string, line: number): string | undefined {
  const trimmed = (line === 1 ? raw.replace(/^\uFEFF/, '') : raw).trim();
  if (trimmed === '' || trimmed.startsWith('#')) return undefined;
  const picked = linkOfLine(trimmed);
  return 'link' in picked ? picked.link : undefined;
}

function changedError(shownAs: string, line: number): LrtError {
  return new LrtError(
    'E_SURL_LIST',
    `${shownAs} changed while it was being read (line ${line}); leave the file alone and run the command again`,
    { details: { source: shownAs, line } },
  );
}

/**
 * Checks a SURL list file as readSurlListFile does (every bad line reported together, one
 * observation at one site) and plans its chunks as sliceBySubband does, holding numbers only.
 * Throws E_SURL_LIST / E_NOT_FOUND / E_IO / E_USAGE before any chunk is handed out.
 */
export async function sliceSurlListFile(
  path: string,
  shownAs: string,
  options: SliceFileOptions,
): Promise<SurlListSlices> {
  const { perToken } = options;
  if (!Number.isInteger(perToken) || perToken < 1) {
    throw new LrtError('E_USAGE', `SURLs per token must be a whole number >= 1, got ${perToken}`);
  }
  const forms: FormScan[] = (options.pattern ? [options.pattern] : KNOWN_SUBBAND_PATTERNS).map((pattern) => ({
    pattern,
    subbands: new NumberColumn(),
    lines: new NumberColumn(),
    without: 0,
  }));
  let first: ListEntry | undefined;
  let adds = 0;
  const reader = new SurlLineReader(shownAs, (link, where) => {
    adds += 1;
    const origin: Origin = { entry: adds, ...where };
    const surl = parseListLink(link, origin);
    checkSameList(first, surl, origin);
    first ??= { ...surl, origin };
    for (const form of forms) {
      const subband = subbandOf(surl.path, form.pattern);
      if (subband === undefined) {
        form.without += 1;
        form.firstWithout ??= { ...surl, origin };
      } else {
        form.subbands.push(subband);
        form.lines.push(where.line);
      }
    }
  });
  const lineCount = await forEachLine(path, shownAs, (raw, line) => reader.read(raw, line));
  reader.finish();
  const head = first!;
  const form = options.pattern
    ? forms[0]!
    : forms[KNOWN_SUBBAND_PATTERNS.indexOf(mostFound(forms.map((f) => f.subbands.length)))]!;
  if (form.firstWithout) throw missingSubbandError(form.firstWithout, form.without, form.pattern);

  // Subband order; lines in file order within one subband (the first of twins is kept).
  const subbands = form.subbands.values();
  const lines = form.lines.values();
  const order = new Uint32Array(subbands.length).map((_, i) => i);
  order.sort((a, b) => subbands[a]! - subbands[b]! || lines[a]! - lines[b]!);

  const kept = new Uint8Array(subbands.length).fill(1);
  const twinLines = new Map<number, string>();
  for (let i = 1; i < order.length; i++) {
    if (subbands[order[i]!] !== subbands[order[i - 1]!]) continue;
    twinLines.set(lines[order[i - 1]!]!, '');
    twinLines.set(lines[order[i]!]!, '');
  }
  let duplicatesDropped = 0;
  if (twinLines.size > 0) {
    // Rare: read the SURLs of those lines to tell a SURL given twice from two SURLs of one subband.
    await forEachLine(path, shownAs, (raw, line) => {
      if (!twinLines.has(line)) return;
      const link = linkAt(raw, line);
      if (link === undefined) throw changedError(shownAs, line);
      twinLines.set(line, parseSurl(link).surl);
    });
    for (let i = 0; i < order.length; ) {
      let end = i + 1;
      while (end < order.length && subbands[order[end]!] === subbands[order[i]!]) end++;
      if (end - i > 1) {
        const firstLineOf = new Map<string, number>();
        for (let k = i; k < end; k++) {
          const line = lines[order[k]!]!;
          const surl = twinLines.get(line)!;
          if (firstLineOf.has(surl)) {
            kept[order[k]!] = 0;
            duplicatesDropped++;
          } else firstLineOf.set(surl, line);
        }
        if (firstLineOf.size > 1) {
          throw duplicateSubbandError(
            subbands[order[i]!]!,
            [...firstLineOf.values()].map((line, n) => ({ entry: n + 1, source: shownAs, line })),
            [...firstLineOf.keys()],
          );
        }
      }
      i = end;
    }
  }

  // The plan: chunk of each kept line and its place in the chunk; the subbands of each chunk.
  const chunkOfLine = new Int32Array(lineCount + 1).fill(-1);
  const placeInChunk = new Uint32Array(lineCount + 1);
  const plannedSubbands = new NumberColumn();
  const chunkFirst = new NumberColumn();
  const chunkStarts = new NumberColumn();
  const lowest = subbands[order[0]!]!;
  for (const index of order) {
    if (!kept[index]) continue;
    const subband = subbands[index]!;
    const start = lowest + Math.floor((subband - lowest) / perToken) * perToken;
    if (chunkStarts.length === 0 || chunkStarts.get(chunkStarts.length - 1) !== start) {
      chunkStarts.push(start);
      chunkFirst.push(plannedSubbands.length);
    }
    const chunk = chunkStarts.length - 1;
    chunkOfLine[lines[index]!] = chunk;
    placeInChunk[lines[index]!] = plannedSubbands.length - chunkFirst.get(chunk);
    plannedSubbands.push(subband);
  }
  const chunkCount = chunkStarts.length;
  const sizeOf = (chunk: number) =>
    (chunk + 1 < chunkCount ? chunkFirst.get(chunk + 1) : plannedSubbands.length) - chunkFirst.get(chunk);
  const subbandsOf = (chunk: number) => [
    ...plannedSubbands.values().subarray(chunkFirst.get(chunk), chunkFirst.get(chunk) + sizeOf(chunk)),
  ];

  return {
    source: shownAs,
    obsid: head.obsid!,
    site: head.site,
    pattern: form.pattern,
    surlCount: plannedSubbands.length,
    duplicatesDropped,
    chunkCount,
    firstKey: subbandKey(chunkStarts.get(0)),
    chunkOf(subband) {
      if (subband < lowest) return undefined;
      const start = lowest + Math.floor((subband - lowest) / perToken) * perToken;
      // chunk starts ascend: binary search
      let lo = 0;
      let hi = chunkCount - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const at = chunkStarts.get(mid);
        if (at === start) {
          const members = subbandsOf(mid);
          return members.includes(subband) ? { key: subbandKey(start), subbands: members } : undefined;
        }
        if (at < start) lo = mid + 1;
        else hi = mid - 1;
      }
      return undefined;
    },
    async *chunks() {
      const pending = new Map<number, { surls: string[]; filled: number }>();
      let next = 0;
      let line = 0;
      for await (const raw of surlListFileLines(path, shownAs)) {
        line += 1;
        const chunk = line <= lineCount ? chunkOfLine[line]! : -1;
        if (chunk < 0) continue;
        const link = linkAt(raw, line);
        if (link === undefined) throw changedError(shownAs, line);
        const surl = parseSurl(link);
        const place = placeInChunk[line]!;
        if (subbandOf(surl.path, form.pattern) !== plannedSubbands.get(chunkFirst.get(chunk) + place)) {
          throw changedError(shownAs, line);
        }
        let held = pending.get(chunk);
        if (!held) {
          held = { surls: new Array<string>(sizeOf(chunk)), filled: 0 };
          pending.set(chunk, held);
        }
        held.surls[place] = surl.surl;
        held.filled += 1;
        for (
          let ready = pending.get(next);
          ready && ready.filled === sizeOf(next);
          ready = pending.get(next)
        ) {
          pending.delete(next);
          const start = chunkStarts.get(next);
          yield { key: subbandKey(start), start, subbands: subbandsOf(next), surls: ready.surls };
          next += 1;
        }
      }
      if (next < chunkCount) throw changedError(shownAs, line);
    },
  };
}
