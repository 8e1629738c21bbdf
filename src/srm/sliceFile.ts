import { LrtError } from '../core';
import { checkSameList, describeOrigin, type ListEntry, type Origin, parseListLink } from './list';
import { linkOfLine, SurlLineReader, surlListFileLines } from './parseFile';
import type { SiteName } from './sites';
import { assertPerToken, chunkStart, duplicateSubbandError, missingSubbandError } from './slice';
import { KNOWN_SUBBAND_PATTERNS, mostFound, type SubbandPattern, subbandKey, subbandOf } from './subbands';
import { parseSurl } from './surl';

/*
 * A SURL list file cut into chunks (sliceBySubband's rules) without holding the list: a campaign's
 * list has up to a million lines, and the SURL objects of a parsed list take some 600 bytes each.
 * The file is read twice (three times when different lines name the same subband): the first pass
 * checks every line and keeps only numbers (line and subband of each SURL, some 25 bytes a SURL in
 * typed arrays); the last pass reads the SURLs again and hands out each chunk as soon as its lines
 * have been read. A list in subband order (as the LTA writes them) holds one chunk at a time; lines
 * out of order wait until their chunk is complete.
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

/** A growing column of whole numbers below 2^32: 4 bytes a value instead of a JS array's boxed entries. */
class U32Column {
  #data = new Uint32Array(1024);
  length = 0;
  push(value: number): void {
    if (this.length === this.#data.length) {
      const bigger = new Uint32Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.length++] = value;
  }
  get(index: number): number {
    return this.#data[index]!;
  }
  /** The values in an array of their own size (the column's spare room is let go). */
  trimmed(): Uint32Array {
    return this.#data.slice(0, this.length);
  }
}

/** A subband number kept in a U32Column; NONE marks a file name without one. */
const NONE = 0xffffffff;

/** What the first pass finds under one subband form. */
interface FormScan {
  pattern: SubbandPattern;
  /** The subband of each accepted SURL (NONE when the name has none), in file order. */
  subbands: U32Column;
  found: number;
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
  assertPerToken(perToken);
  const forms: FormScan[] = (options.pattern ? [options.pattern] : KNOWN_SUBBAND_PATTERNS).map((pattern) => ({
    pattern,
    subbands: new U32Column(),
    found: 0,
    without: 0,
  }));
  // The line of each accepted SURL, ascending; forms[f].subbands[i] is its subband under form f.
  const lineColumn = new U32Column();
  let first: ListEntry | undefined;
  let adds = 0;
  const reader = new SurlLineReader(shownAs, (link, where) => {
    adds += 1;
    const origin: Origin = { entry: adds, ...where };
    const surl = parseListLink(link, origin);
    checkSameList(first, surl, origin);
    first ??= { ...surl, origin };
    const subbands = forms.map((form) => subbandOf(surl.path, form.pattern));
    const tooLarge = subbands.find((sb) => sb !== undefined && sb >= NONE);
    if (tooLarge !== undefined) {
      throw new LrtError('E_SURL_LIST', `${describeOrigin(origin)}: subband ${tooLarge} is too large`, {
        details: { ...origin },
      });
    }
    lineColumn.push(where.line);
    forms.forEach((form, f) => {
      const subband = subbands[f];
      form.subbands.push(subband ?? NONE);
      if (subband !== undefined) form.found += 1;
      else {
        form.without += 1;
        form.firstWithout ??= { ...surl, origin };
      }
    });
  });
  await forEachLine(path, shownAs, (raw, line) => reader.read(raw, line));
  reader.finish();
  const head = first!;
  const form = options.pattern
    ? forms[0]!
    : forms[KNOWN_SUBBAND_PATTERNS.indexOf(mostFound(forms.map((f) => f.found)))]!;
  if (form.firstWithout) throw missingSubbandError(form.firstWithout, form.without, form.pattern);

  // Subband order; file order within one subband (the first of twins is kept).
  const { pattern } = form;
  const subbands = form.subbands.trimmed();
  const lines = lineColumn.trimmed();
  forms.length = 0;
  const order = new Uint32Array(subbands.length).map((_, i) => i);
  order.sort((a, b) => subbands[a]! - subbands[b]! || a - b);

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

  // The plan, per accepted SURL in file order: its chunk (-1: dropped twin) and place in it.
  const chunkOfEntry = new Int32Array(subbands.length).fill(-1);
  const placeInChunk = new Uint32Array(subbands.length);
  const plannedSubbands = new Uint32Array(subbands.length - duplicatesDropped);
  const chunkFirst = new U32Column();
  const chunkStarts = new U32Column();
  const lowest = subbands[order[0]!]!;
  let planned = 0;
  for (const index of order) {
    if (!kept[index]) continue;
    const subband = subbands[index]!;
    const start = chunkStart(subband, lowest, perToken);
    if (chunkStarts.length === 0 || chunkStarts.get(chunkStarts.length - 1) !== start) {
      chunkStarts.push(start);
      chunkFirst.push(planned);
    }
    const chunk = chunkStarts.length - 1;
    chunkOfEntry[index] = chunk;
    placeInChunk[index] = planned - chunkFirst.get(chunk);
    plannedSubbands[planned++] = subband;
  }
  const chunkCount = chunkStarts.length;
  const sizeOf = (chunk: number) =>
    (chunk + 1 < chunkCount ? chunkFirst.get(chunk + 1) : plannedSubbands.length) - chunkFirst.get(chunk);
  const subbandsOf = (chunk: number) => [
    ...plannedSubbands.subarray(chunkFirst.get(chunk), chunkFirst.get(chunk) + sizeOf(chunk)),
  ];

  return {
    source: shownAs,
    obsid: head.obsid!,
    site: head.site,
    pattern,
    surlCount: plannedSubbands.length,
    duplicatesDropped,
    chunkCount,
    firstKey: subbandKey(chunkStarts.get(0)),
    chunkOf(subband) {
      if (subband < lowest) return undefined;
      const start = chunkStart(subband, lowest, perToken);
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
      let entry = 0;
      for await (const raw of surlListFileLines(path, shownAs)) {
        line += 1;
        if (entry >= lines.length || lines[entry] !== line) continue;
        const chunk = chunkOfEntry[entry]!;
        const place = placeInChunk[entry]!;
        entry += 1;
        if (chunk < 0) continue;
        const link = linkAt(raw, line);
        if (link === undefined) throw changedError(shownAs, line);
        const surl = parseSurl(link);
        if (subbandOf(surl.path, pattern) !== plannedSubbands[chunkFirst.get(chunk) + place]) {
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
