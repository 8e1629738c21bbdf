import { readFile } from 'node:fs/promises';
import { decodeUtf8, isLrtError, LrtError } from '../core';
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
function linkOfLine(line: string): { link: string } | { problem: string } {
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

function listError(source: string | undefined, problems: Problem[]): LrtError {
  const where = (p: LineProblem) => `${source ? `${source} ` : ''}line ${p.line}`;
  const lines = problems.map((p) => (p.located ? p.message : `${where(p)}: ${p.message}`));
  const message =
    problems.length === 1
      ? lines[0]!
      : `${problems.length} bad lines${source ? ` in ${source}` : ''}:\n  ` +
        lines.slice(0, MAX_LISTED).join('\n  ') +
        (problems.length > MAX_LISTED ? `\n  ... and ${problems.length - MAX_LISTED} more` : '');
  return new LrtError('E_SURL_LIST', message, {
    details: { source, problems: problems.slice(0, 100).map(({ line, message }) => ({ line, message })) },
  });
}

/** A whole `gfal-ls -l` listing given as a list: one message instead of one per line. */
function lsListingError(source: string | undefined, problems: Problem[]): LrtError {
  return new LrtError(
    'E_SURL_LIST',
    `${source ?? 'the SURL list'} looks like 'gfal-ls -l' output (${problems.length} lines): it names files ` +
      'without their directory, so no SURL can be built from it; list full SURLs instead ' +
      '(srm://<host>:8443/<dir>/<name>, one per line)',
    { details: { source, problems: problems.slice(0, 100) } },
  );
}

/**
 * Reads the text of a SURL list: one link per line, blank lines and `#` comments ignored, CRLF
 * and trailing spaces handled, extra columns dropped. Every bad line is collected and reported
 * together (E_SURL_LIST with file name and line numbers); a list without any SURL is an error.
 */
export function parseSurlListText(text: string, source?: string): SurlList {
  const list = new SurlList();
  const problems: Problem[] = [];
  let lsLines = 0;
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    if (LS_LINE_RE.test(trimmed)) lsLines += 1;
    const picked = linkOfLine(trimmed);
    if ('problem' in picked) {
      problems.push({ line, message: picked.problem });
      return;
    }
    try {
      list.add(picked.link, source === undefined ? { line } : { source, line });
    } catch (err) {
      if (!isLrtError(err, 'E_SURL_LIST')) throw err;
      problems.push({ line, message: err.message, located: true });
    }
  });
  if (problems.length > 0 && list.size === 0 && lsLines === problems.length) {
    throw lsListingError(source, problems);
  }
  if (problems.length > 0) throw listError(source, problems);
  if (list.size === 0) {
    throw new LrtError('E_SURL_LIST', `${source ?? 'the SURL list'} holds no SURLs`, { details: { source } });
  }
  return list;
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
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new LrtError('E_NOT_FOUND', `SURL list ${shownAs} not found`, {
        cause: err,
        details: { source: shownAs },
      });
    }
    throw new LrtError('E_IO', `cannot read SURL list ${shownAs}: ${code ?? (err as Error).message}`, {
      cause: err,
      details: { source: shownAs },
    });
  }
  return parseSurlListText(decodeUtf8(bytes, shownAs, 'E_SURL_LIST'), shownAs);
}
