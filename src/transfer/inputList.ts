import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeUtf8, LrtError } from '../core';
import { safeUrl } from './failure';
import type { StageInSpec } from './stageSpec';

/** LOFAR's exit code when the SURL list is missing. */
export const EXIT_NO_SRM_LIST = 20;

const LINK_RE = /^[a-z][a-z0-9+.-]*:\/\//i;
const GRID_LINK_RE = /^(srm|gsiftp):\/\//i;

/**
 * The URLs of a stage-in list (srm.txt): one a line, blank lines and `#` comments skipped; on a
 * line with several columns (LTA lists add a `file:///` one) the srm:// or gsiftp:// field wins.
 * Every bad line is reported at once (E_SURL_LIST naming `source` and the line numbers).
 */
export function parseInputList(text: string, source: string): string[] {
  const urls: string[] = [];
  const problems: string[] = [];
  text
    .replace(/^\uFEFF/, '')
    .split(/\r\n|\n|\r/)
    .forEach((raw, index) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const fields = line.split(/\s+/);
      const url =
        fields.find((f) => GRID_LINK_RE.test(f)) ?? fields.find((f) => LINK_RE.test(f) || f.startsWith('/'));
      if (url) urls.push(url);
      else
        problems.push(
          `line ${index + 1}: "${line.slice(0, 200)}" holds no URL (srm://, gsiftp://, https://, file://)`,
        );
    });
  if (problems.length > 0) {
    const shown =
      problems.slice(0, 5).join('; ') + (problems.length > 5 ? `; ... ${problems.length - 5} more` : '');
    throw new LrtError('E_SURL_LIST', `${source}: ${shown}`, { details: { source, bad: problems.length } });
  }
  if (urls.length === 0)
    throw new LrtError('E_SURL_LIST', `${source} holds no URLs`, { details: { source } });
  return urls;
}

/**
 * The file name a URL is stored under in Input/: its last path segment (of the SFN / surl query
 * parameter for the gfal and LTA-door forms). E_CONFIG when that is no safe file name.
 */
export function inputFileName(url: string): string {
  let path = url;
  if (LINK_RE.test(url)) {
    try {
      const parsed = new URL(url);
      const inner = parsed.searchParams.get('SFN') ?? parsed.searchParams.get('surl');
      path = inner ? inner.split(/[?#]/)[0]! : parsed.pathname;
    } catch {
      path = url.split(/[?#]/)[0]!;
    }
  }
  const segment = path.replace(/\/+$/, '').split('/').pop() ?? '';
  let name = segment;
  try {
    name = decodeURIComponent(segment);
  } catch {
    // a stray % stays as written
  }
  if (name === '' || name === '.' || name === '..' || /[/\\\x00-\x1f\x7f]/.test(name)) {
    throw new LrtError(
      'E_CONFIG',
      `stage-in URL ${safeUrl(url).slice(0, 200)} names no usable file (last path segment "${name}")`,
      {
        details: { url: safeUrl(url).slice(0, 200) },
      },
    );
  }
  return name;
}

/** The URLs a stage-in spec names: its list, or the list file (an attachment) read from the job dir. */
export async function stageInUrls(spec: StageInSpec, jobDir: string): Promise<string[]> {
  if (Array.isArray(spec.from)) return spec.from;
  let bytes: Buffer;
  try {
    bytes = await readFile(join(jobDir, spec.from));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LrtError(
      code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO',
      `stage_in: the list ${spec.from} is not in the job dir (${code ?? (err as Error).message}); is it attached to the token?`,
      { cause: err, exitCode: EXIT_NO_SRM_LIST, details: { file: spec.from } },
    );
  }
  return parseInputList(decodeUtf8(bytes, spec.from, 'E_SURL_LIST'), spec.from);
}
