import { resolve } from 'node:path';
import { durationInWords, LrtError } from '../../core';
import { defaultProxyPath } from '../../pilot/check';
import { probeProxy } from '../../pilot/checkProbes';
import { gfalLink, parseSurl, readSurlListFile } from '../../srm';
import {
  checkLocality,
  DEFAULT_LOCALITY_CONCURRENCY,
  detectLocalityRunner,
  type FileLocality,
  type LocalityDeps,
  localitySupported,
  parseGfalTool,
  summarizeLocality,
  unsupportedMessage,
} from '../../staging';
import { type CommandContext, defineCommand } from '../command';
import { EXIT } from '../exitCodes';
import { defineOptions } from '../options';

/** The gfal flags of every command that checks locality. */
export const LOCALITY_OPTIONS = defineOptions({
  concurrency: {
    type: 'integer',
    default: DEFAULT_LOCALITY_CONCURRENCY,
    value: 'N',
    description: `gfal calls at once (default ${DEFAULT_LOCALITY_CONCURRENCY})`,
  },
  tool: {
    type: 'string',
    value: 'T',
    description: 'gfal tool: auto (the gfal2 binding when present), python, xattr',
  },
  'any-site': { type: 'boolean', description: 'ask gfal at sites not known to report locality too' },
});

/**
 * gfal asks srm:// and gsiftp:// doors with the grid proxy: without a valid one every file fails
 * alike (CGSI-gSOAP "Could NOT load client credentials", once per file). Look once, before the
 * first file, and say it in one line with the command that fixes it.
 */
async function requireGridProxy(ctx: CommandContext, file: string): Promise<void> {
  const given = ctx.env.X509_USER_PROXY;
  const proxy = given ?? defaultProxyPath();
  const certDir = ctx.env.X509_CERT_DIR;
  const left = await probeProxy(proxy, certDir ? { certDir } : {}, !given, AbortSignal.timeout(30_000));
  const fix = `make one with 'voms-proxy-init --voms lofar:/lofar/user' (or set X509_USER_PROXY), then run this again`;
  if ('problem' in left) {
    throw new LrtError(
      'E_TRANSFER_AUTH',
      `${file}: nothing checked, no usable grid proxy: ${left.problem}; ${fix}`,
      {
        details: { proxy },
      },
    );
  }
  if (left.secondsLeft <= 0) {
    throw new LrtError(
      'E_TRANSFER_AUTH',
      `${file}: nothing checked, the grid proxy ${proxy} expired ${durationInWords(-left.secondsLeft)} ago; ${fix}`,
      { details: { proxy } },
    );
  }
}

function lineOf(r: FileLocality): string {
  return r.state !== undefined ? `${r.state}\t${r.surl}` : `ERROR\t${r.surl}\t${r.error ?? ''}`;
}

/** `lrt srm state FILE`: the locality of every SURL of a list, from gfal's user.status. */
export function makeSrmStateCommand(deps: LocalityDeps = {}) {
  return defineCommand({
    path: ['srm', 'state'],
    summary:
      'show whether each SURL of a list is on disk or on tape (gfal user.status), and the share staged',
    json:
      '{source, obsid, site, tool, summary: {total, staged, percentStaged, byState: {STATE: N}, unknown},\n' +
      ' files: [{surl, site, link?, state?, staged, error?}]}',
    description:
      'Asks gfal for the user.status of every SURL (ONLINE, NEARLINE, ONLINE_AND_NEARLINE) through the\n' +
      'gfal2 Python binding when present, else gfal-xattr, --concurrency at a time. Needs a grid\n' +
      'proxy (X509_USER_PROXY, else /tmp/x509up_u<uid>): a missing or expired one stops it before\n' +
      'the first file (exit 4).\n' +
      'Prints STATE<TAB>SURL per file, then the percentage staged (ONLINE or ONLINE_AND_NEARLINE).\n' +
      'Only sara and poznan report locality; exit 6 when some files could not be checked.',
    options: LOCALITY_OPTIONS,
    positionals: [{ name: 'file', description: 'SURL list: one srm:// link per line' }],
    examples: ['lrt srm state srm.txt', 'lrt srm state --concurrency 16 --json srm.txt'],
    async run(ctx) {
      const file = ctx.positionals[0]!;
      const tool = parseGfalTool(ctx.options.tool);
      const list = await readSurlListFile(resolve(ctx.cwd, file), file);
      if (list.site && !localitySupported(list.site) && !ctx.options['any-site']) {
        throw new LrtError(
          'E_UNSUPPORTED',
          `${file}: ${unsupportedMessage(list.site)}; --any-site tries anyway`,
          {
            details: { site: list.site },
          },
        );
      }
      const first = list.surls()[0];
      if (first && /^(srm|gsiftp):/.test((deps.linkOf ?? gfalLink)(parseSurl(first))))
        await requireGridProxy(ctx, file);
      const runner = await detectLocalityRunner(tool, { env: ctx.env });
      const progress = ctx.out.progress('checking locality', list.size);
      const results = await checkLocality(list.surls(), {
        runner,
        concurrency: ctx.options.concurrency,
        anySite: ctx.options['any-site'],
        ...(deps.linkOf ? { linkOf: deps.linkOf } : {}),
        onResult: () => progress.tick(),
      });
      progress.done();
      const summary = summarizeLocality(results);
      ctx.out.result({
        source: file,
        obsid: list.obsid,
        site: list.site,
        tool: runner.tool,
        summary,
        files: results,
      });
      for (const r of results) ctx.out.line(lineOf(r));
      const states = Object.entries(summary.byState)
        .map(([state, n]) => `${state} ${n}`)
        .join(', ');
      ctx.out.line(
        `staged: ${summary.staged}/${summary.total} (${summary.percentStaged.toFixed(1)}%)` +
          (states ? `; ${states}` : '') +
          (summary.unknown ? `; ${summary.unknown} not checked` : ''),
      );
      return summary.unknown > 0 ? EXIT.partial : EXIT.ok;
    },
  });
}

export const srmStateCommands = [makeSrmStateCommand()];
