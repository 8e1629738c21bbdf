import { resolve } from 'node:path';
import { countOf, LrtError } from '../../core';
import {
  DEFAULT_SUBBAND_PATTERN,
  describePattern,
  detectSubbandPattern,
  formatRanges,
  isLinkKind,
  KNOWN_SUBBAND_PATTERNS,
  LINK_KINDS,
  readSurlListFile,
  type SubbandPattern,
  type SubbandRange,
  type SurlList,
  sliceBySubband,
  subbandOf,
  summarizeSubbands,
} from '../../srm';
import { type CommandContext, type ContextWith, defineCommand } from '../command';
import { defineOptions, type OptionValues } from '../options';

const FILE_ARG = [
  { name: 'file', description: 'SURL list: one srm:// (or gsiftp://) link per line, # comments allowed' },
];

const KNOWN_FORMS = KNOWN_SUBBAND_PATTERNS.map(describePattern).join(' or ');

export const PATTERN_OPTIONS = defineOptions({
  'sb-prefix': {
    type: 'string',
    value: 'TEXT',
    description: `text before the subband digits (default: the form the file names use, ${KNOWN_FORMS})`,
  },
  'sb-suffix': {
    type: 'string',
    value: 'TEXT',
    description: `text after the subband digits (default ${DEFAULT_SUBBAND_PATTERN.suffix} with --sb-prefix; e.g. . for ..._SB216.tar)`,
  },
});

/** The subband form of a list: the flags when given, else the known form its file names use. */
export interface ChosenPattern {
  pattern: SubbandPattern;
  /** True when the form was found in the file names rather than given by flags. */
  detected: boolean;
}

type PatternContext = ContextWith<OptionValues<typeof PATTERN_OPTIONS>>;

export function subbandPatternFor(ctx: PatternContext, list: SurlList): ChosenPattern {
  const given = givenSubbandPattern(ctx);
  return given
    ? { pattern: given, detected: false }
    : { pattern: detectSubbandPattern(list), detected: true };
}

/** The form --sb-prefix / --sb-suffix give (the default fills the other), or undefined: detect it. */
export function givenSubbandPattern(ctx: PatternContext): SubbandPattern | undefined {
  const { 'sb-prefix': prefix, 'sb-suffix': suffix } = ctx.options;
  if (prefix === '') throw new LrtError('E_USAGE', '--sb-prefix must not be empty');
  if (prefix === undefined && suffix === undefined) return undefined;
  return {
    prefix: prefix ?? DEFAULT_SUBBAND_PATTERN.prefix,
    suffix: suffix ?? DEFAULT_SUBBAND_PATTERN.suffix,
  };
}

/** `form SB<digits>. (found in the file names)` or `form ABN_<digits>. (--sb-prefix/--sb-suffix)` */
function describeChoice({ pattern, detected }: ChosenPattern): string {
  return `form ${describePattern(pattern)}${detected ? ', found in the file names' : ', from --sb-prefix/--sb-suffix'}`;
}

const MAX_RANGES_SHOWN = 10;

function shownRanges(ranges: readonly SubbandRange[]): string {
  if (ranges.length <= MAX_RANGES_SHOWN) return formatRanges(ranges);
  return `${formatRanges(ranges.slice(0, MAX_RANGES_SHOWN))}, ...`;
}

function readList(ctx: CommandContext): Promise<SurlList> {
  const file = ctx.positionals[0]!;
  return readSurlListFile(resolve(ctx.cwd, file), file);
}

export const srmInfo = defineCommand({
  path: ['srm', 'info'],
  summary: 'show the OBSID, LTA site, count and subband range of a SURL list',
  json:
    '{source, obsid, site, count, duplicatesDropped, subbands: {pattern: {prefix, suffix}, form,\n' +
    ' detected, first, last (null when no file name has one), count, missing: [{from, to}],\n' +
    ' missingCount, duplicated: [N], withoutSubband}}',
  description:
    'Checks the whole list (one OBSID, one site, every line a SURL) and reports every bad line\n' +
    'with its number. Duplicates are dropped and counted.',
  options: PATTERN_OPTIONS,
  positionals: FILE_ARG,
  examples: ['lrt srm info srm.txt', 'lrt srm info --sb-suffix . instruments.txt --json'],
  async run(ctx) {
    const list = await readList(ctx);
    const chosen = subbandPatternFor(ctx, list);
    const { pattern } = chosen;
    const sb = summarizeSubbands(list, pattern);
    if (ctx.out.json) {
      ctx.out.result({
        source: ctx.positionals[0],
        obsid: list.obsid,
        site: list.site,
        count: list.size,
        duplicatesDropped: list.duplicates.length,
        subbands: {
          pattern,
          form: describePattern(pattern),
          detected: chosen.detected,
          ...sb,
          first: sb.first ?? null,
          last: sb.last ?? null,
        },
      });
      return 0;
    }
    const rows: [string, string][] = [
      ['obsid', list.obsid ?? '-'],
      ['site', list.site ?? '-'],
      ['surls', String(list.size)],
    ];
    if (list.duplicates.length > 0) rows.push(['duplicates', `${list.duplicates.length} dropped`]);
    if (sb.first === undefined || sb.last === undefined) {
      const tried = chosen.detected ? KNOWN_FORMS : describePattern(pattern);
      rows.push([
        'subbands',
        `no file name has a subband as ${tried}: give the form with --sb-prefix / --sb-suffix`,
      ]);
    } else {
      rows.push(['subbands', `${sb.first}-${sb.last} (${sb.count} present; ${describeChoice(chosen)})`]);
      rows.push([
        'missing',
        sb.missingCount === 0
          ? 'none'
          : `${shownRanges(sb.missing)} (${countOf(sb.missingCount, 'subband')})`,
      ]);
      if (sb.duplicated.length > 0) rows.push(['repeated', sb.duplicated.join(', ')]);
      if (sb.withoutSubband > 0) rows.push(['no subband', countOf(sb.withoutSubband, 'SURL')]);
    }
    for (const [name, value] of rows) ctx.out.line(`${name.padEnd(11)}${value}`);
    return 0;
  },
});

export const srmLinks = defineCommand({
  path: ['srm', 'links'],
  summary: 'print the links of a SURL list in one form (gsiftp, https, gfal or srm), in input order',
  json: '{obsid, site, kind, links: [LINK]}',
  options: {
    kind: {
      type: 'string',
      default: 'gsiftp',
      value: 'KIND',
      description: `link form: ${LINK_KINDS.join(', ')} (default gsiftp)`,
    },
  },
  positionals: FILE_ARG,
  examples: ['lrt srm links srm.txt', 'lrt srm links --kind gfal srm.txt'],
  async run(ctx) {
    const { kind } = ctx.options;
    if (!isLinkKind(kind)) {
      throw new LrtError('E_USAGE', `--kind must be one of ${LINK_KINDS.join(', ')}, got "${kind}"`);
    }
    const list = await readList(ctx);
    const links = list.links(kind);
    if (ctx.out.json) ctx.out.result({ obsid: list.obsid, site: list.site, kind, links });
    else for (const link of links) ctx.out.line(link);
    return 0;
  },
});

export const srmSlice = defineCommand({
  path: ['srm', 'slice'],
  summary: 'group a SURL list into per-token chunks of N consecutive subbands',
  description:
    'Chunks start at the lowest subband and step by N; a chunk is keyed by its zero-padded start\n' +
    'subband (the token id suffix SB<key>). Missing subbands leave gaps, empty chunks are dropped.\n' +
    'Prints KEY COUNT FIRST-LAST per chunk.',
  json:
    '{source, obsid, site, perToken, pattern: {prefix, suffix}, form, detected, count,\n' +
    ' chunks: [{key, count, first, last, surls: [SURL, ...]}]}',
  options: {
    'per-token': { type: 'integer', default: 10, value: 'N', description: 'subbands per token (default 10)' },
    ...PATTERN_OPTIONS,
  },
  positionals: FILE_ARG,
  examples: ['lrt srm slice --per-token 10 srm.txt', 'lrt srm slice --per-token 25 --json srm.txt'],
  async run(ctx) {
    const perToken = ctx.options['per-token'];
    const list = await readList(ctx);
    const chosen = subbandPatternFor(ctx, list);
    const { pattern } = chosen;
    const chunks = sliceBySubband(list, perToken, pattern).map((chunk) => ({
      key: chunk.key,
      count: chunk.entries.length,
      first: subbandOf(chunk.entries[0]!.path, pattern)!,
      last: subbandOf(chunk.entries[chunk.entries.length - 1]!.path, pattern)!,
      surls: chunk.entries.map((e) => e.surl),
    }));
    if (ctx.out.json) {
      ctx.out.result({
        source: ctx.positionals[0],
        obsid: list.obsid,
        site: list.site,
        perToken,
        pattern,
        form: describePattern(pattern),
        detected: chosen.detected,
        count: chunks.length,
        chunks,
      });
      return 0;
    }
    for (const chunk of chunks) ctx.out.line(`${chunk.key}\t${chunk.count}\t${chunk.first}-${chunk.last}`);
    ctx.out.note(
      `${countOf(chunks.length, 'chunk')} of at most ${countOf(perToken, 'subband')} from ${countOf(list.size, 'SURL')} (${list.obsid}, ${list.site}; ${describeChoice(chosen)})`,
    );
    return 0;
  },
});

export const srmCommands = [srmInfo, srmLinks, srmSlice];
