import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { decodeUtf8, firstNonUtf8Byte, isLrtError, LrtError } from '../core';
import { SurlList } from './list';
import { siteForPath } from './sites';
import { parseSurl, quoteLink } from './surl';

export interface LineProblem {
  line: number;
  message: string;
}

/** `located`: the message already names the file and line (errors of SurlList.add). */
interface Problem extends LineProblem {
  located?: boolean;
}

const LINK_FIELD_RE = /^(?:srm|gsiftp):\/\//i;
const DOOR_FIELD_RE = /^https:\/\/\S*[?&]surl=srm(?::|%3A)/i;
const LS_LINE_RE = /^[-bcdlps][-rwxsStT]{9}[.+@]?\s+\d+\s/;
const OTHER_SCHEME_RE = /^([a-z][a-z0-9+.-]*):\/\//i;
const MAX_LISTED = 5;

/** Why a line that holds no link field is not a SURL, in words that help fix the file. */
function diagnose(fields: string[], rawLine: string): string {
  const first = fields[0]!;
  if (LS_LINE_RE.test(rawLine.trim())) {
    return (
      `looks like a line of 'gfal-ls -l' output (${quoteLink(fields[fields.length - 1]!)}): it names a file ` +
      'without its directory; list full SURLs instead (srm://<host>:8443/<dir>/<name>, one per line)'
    );
  }
  if (first.startsWith('/')) {
    const site = siteForPath(first);
    const hint = site ? `, e.g. ${site.srmPrefix}${first}` : ' (srm://<LTA SRM host>:8443<path>)';
    return `${quoteLink(first)} is a bare path, not a SURL: give the full SURL${hint}`;
  }
  const scheme = OTHER_SCHEME_RE.exec(first);
  if (scheme) {
    return `${quoteLink(first)} uses ${scheme[1]}://; a SURL list takes srm://, gsiftp:// or the LTA https download door`;
  }
  return `${quoteLink(rawLine.trim())} is not a SURL (expected srm://, gsiftp:// or an LTA https download link)`;
}

/**
 * The link of one non-blank line. Several space-separated fields are allowed (lists from the
 * LTA carry a second `file:///...` column): the field holding the link is kept; two fields naming
 * different files are an error.
 */
export function linkOfLine(line: string): { link: string } | { problem: string } {
  const fields = line.trim().split(/\s+/);
  const links = fields.filter((f) => LINK_FIELD_RE.test(f) || DOOR_FIELD_RE.test(f));
  if (links.length === 0) return { problem: diagnose(fields, line) };
  if (links.length > 1) {
    try {
      const distinct = new Set(links.map((l) => parseSurl(l).surl));
      if (distinct.size > 1) {
        return {
          problem: `holds ${distinct.size} different links (${links.map(quoteLink).join(', ')}); one per line`,
        };
      }
    } catch (err) {
      if (!isLrtError(err, 'E_SURL')) throw err;
      return { problem: err.message };
    }
  }
  return { link: links[0]! };
}

function listError(source: string | undefined, problems: Problem[], total = problems.length): LrtError {
  const where = (p: LineProblem) => `${source ? `${source} ` : ''}line ${p.line}`;
  const lines = problems.map((p) => (p.located ? p.message : `${where(p)}: ${p.message}`));
  const message =
    total === 1
      ? lines[0]!
      : `${total} bad lines${source ? ` in ${source}` : ''}:\n  ` +
        lines.slice(0, MAX_LISTED).join('\n  ') +
        (total > MAX_LISTED ? `\n  ... and ${total - MAX_LISTED} more` : '');
  return new LrtError('E_SURL_LIST', message, {
    details: { source, problems: problems.slice(0, 100).map(({ line, message }) => ({ line, message })) },
  });
}

/** A whole `gfal-ls -l` listing given as a list: one message instead of one per line. */
function lsListingError(source: string | undefined, problems: Problem[], total: number): LrtError {
  return new LrtError(
    'E_SURL_LIST',
    `${source ?? 'the SURL list'} looks like 'gfal-ls -l' output (${total} lines): it names files ` +
      'without their directory, so no SURL can be built from it; list full SURLs instead ' +
      '(srm://<host>:8443/<dir>/<name>, one per line)',
    { details: { source, problems: problems.slice(0, 100) } },
  );
}

const PROBLEMS_KEPT = 100;

/**
 * Reads a SURL list line by line: blank lines and `#` comments ignored, extra columns dropped,
 * each link handed to `accept` (which parses and checks it, E_SURL_LIST when it does not fit the
 * list). Bad lines are collected (the first 100 kept, all counted) and `finish` reports them
 * together; a list without any SURL is an error. Holds no lines itself, so a file can stream
 * through it.
 */
export class SurlLineReader {
  readonly #source: string | undefined;
  readonly #accept: (link: string, where: { source?: string; line: number }) => unknown;
  readonly #problems: Problem[] = [];
  #problemCount = 0;
  #lsLines = 0;
  #links = 0;

  constructor(
    source: string | undefined,
    accept: (link: string, where: { source?: string; line: number }) => unknown,
  ) {
    this.#source = source;
    this.#accept = accept;
  }

  #problem(problem: Problem): void {
    this.#problemCount += 1;
    if (this.#problems.length < PROBLEMS_KEPT) this.#problems.push(problem);
  }

  /** One line (1-based number); returns the link it holds when the line was accepted. */
  read(raw: string, line: number): string | undefined {
    const trimmed = (line === 1 ? raw.replace(/^\uFEFF/, '') : raw).trim();
    if (trimmed === '' || trimmed.startsWith('#')) return undefined;
    if (LS_LINE_RE.test(trimmed)) this.#lsLines += 1;
    const picked = linkOfLine(trimmed);
    if ('problem' in picked) {
      this.#problem({ line, message: picked.problem });
      return undefined;
    }
    try {
      this.#accept(picked.link, this.#source === undefined ? { line } : { source: this.#source, line });
    } catch (err) {
      if (!isLrtError(err, 'E_SURL_LIST')) throw err;
      this.#problem({ line, message: err.message, located: true });
      return undefined;
    }
    this.#links += 1;
    return picked.link;
  }

  /** Throws E_SURL_LIST for the bad lines seen, or when no line held a SURL. */
  finish(): void {
    const source = this.#source;
    const total = this.#problemCount;
    if (total > 0 && this.#links === 0 && this.#lsLines === total) {
      throw lsListingError(source, this.#problems, total);
    }
    if (total > 0) throw listError(source, this.#problems, total);
    if (this.#links === 0) {
      throw new LrtError('E_SURL_LIST', `${source ?? 'the SURL list'} holds no SURLs`, {
        details: { source },
      });
    }
  }
}

/**
 * Reads the text of a SURL list: one link per line, blank lines and `#` comments ignored, CRLF
 * and trailing spaces handled, extra columns dropped. Every bad line is collected and reported
 * together (E_SURL_LIST with file name and line numbers); a list without any SURL is an error.
 */
export function parseSurlListText(text: string, source?: string): SurlList {
  const list = new SurlList();
  const reader = new SurlLineReader(source, (link, where) => list.add(link, where));
  text.split(/\r\n|\n|\r/).forEach((raw, index) => {
    reader.read(raw, index + 1);
  });
  reader.finish();
  return list;
}

function openError(err: unknown, shownAs: string): LrtError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    return new LrtError('E_NOT_FOUND', `SURL list ${shownAs} not found`, {
      cause: err,
      details: { source: shownAs },
    });
  }
  if (code === 'EISDIR') {
    return new LrtError('E_USAGE', `SURL list ${shownAs} is a folder: give the file in it`, {
      cause: err,
      details: { source: shownAs },
    });
  }
  return new LrtError('E_IO', `cannot read SURL list ${shownAs}: ${code ?? (err as Error).message}`, {
    cause: err,
    details: { source: shownAs },
  });
}

/**
 * Reads a SURL list file (see parseSurlListText); messages name it `shownAs` (the path the user
 * typed). E_NOT_FOUND when missing, E_IO when unreadable.
 */
export async function readSurlListFile(path: string, shownAs: string = path): Promise<SurlList> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw openError(err, shownAs);
  }
  return parseSurlListText(decodeUtf8(bytes, shownAs, 'E_SURL_LIST'), shownAs);
}

const CR = 0x0d;
const LF = 0x0a;

/**
 * The lines of a text file read a block at a time, never the whole file: line ends \n, \r\n or
 * \r, as parseSurlListText splits them. Each line must be UTF-8 (E_SURL_LIST naming the line and
 * byte otherwise); E_NOT_FOUND / E_IO as readSurlListFile.
 */
export async function* surlListFileLines(path: string, shownAs: string = path): AsyncGenerator<string> {
  let carry: Buffer = Buffer.alloc(0);
  let lineNo = 0;
  let skipLf = false;
  const decode = (bytes: Buffer): string => {
    lineNo += 1;
    if (isUtf8(bytes)) return bytes.toString('utf8');
    const bad = firstNonUtf8Byte(bytes);
    const hex = (bad?.value ?? 0).toString(16).toUpperCase().padStart(2, '0');
    throw new LrtError(
      'E_SURL_LIST',
      `${shownAs} line ${lineNo}: byte ${bad?.byte ?? 1} (0x${hex}) is not UTF-8; save the file as UTF-8`,
      { details: { source: shownAs, line: lineNo, byte: bad?.byte ?? 1 } },
    );
  };
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const block = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      let at = 0;
      if (skipLf && block[0] === LF) at = 1;
      skipLf = false;
      for (let i = at; i < block.length; i++) {
        const byte = block[i];
        if (byte !== LF && byte !== CR) continue;
        yield decode(block.subarray(at, i));
        if (byte === CR) {
          if (i + 1 < block.length) {
            if (block[i + 1] === LF) i += 1;
          } else skipLf = true;
        }
        at = i + 1;
      }
      carry = Buffer.from(block.subarray(at));
    }
  } catch (err) {
    if (err instanceof LrtError) throw err;
    throw openError(err, shownAs);
  } finally {
    stream.destroy();
  }
  yield decode(carry);
}
