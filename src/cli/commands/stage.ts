import { resolve } from 'node:path';
import { countOf, LrtError, sleep } from '../../core';
import { readSurlListFile } from '../../srm';
import {
  createStagerClient,
  DEFAULT_MAX_SURLS_PER_REQUEST,
  describeReleasePass,
  detectLocalityRunner,
  isFinishedStatus,
  type LocalityDeps,
  parseGfalTool,
  parseRequestId,
  progressTable,
  type ReleaseOptions,
  type ReleaseReport,
  readCredentialFiles,
  releaseStagedTokens,
  resolveStagerSettings,
  type StagerClient,
  waitForRequest,
  watchRelease,
} from '../../staging';
import { type Command, type ContextWith, defineCommand } from '../command';
import { EXIT } from '../exitCodes';
import { defineOptions, type OptionValues } from '../options';
import { PICAS_OPTIONS, picasFromContext } from '../picasOptions';
import { stopOnSignal } from '../stopSignal';
import { LOCALITY_OPTIONS } from './srmState';

/** The flags of every command that talks to the LTA stager. Passwords never come from flags. */
export const STAGER_OPTIONS = defineOptions({
  'stager-url': {
    type: 'string',
    value: 'URL',
    description: 'LTA stager XML-RPC endpoint (default: LTA_STAGER_URL, then the ASTRON webportal)',
  },
  'lta-user': {
    type: 'string',
    value: 'NAME',
    description:
      'LTA account (default: LOFAR_LTA_USER, ~/.awe/Environment.cfg, ~/.stagingrc); password from LOFAR_LTA_PWD or those files',
  },
});

/** A stager client from the command's flags, environment and credential files. */
export async function stagerFromContext(
  ctx: ContextWith<OptionValues<typeof STAGER_OPTIONS>>,
  maxSurlsPerRequest?: number,
): Promise<StagerClient> {
  const files = await readCredentialFiles(ctx.home);
  const { 'stager-url': url, 'lta-user': user } = ctx.options;
  const settings = resolveStagerSettings({
    flags: { url, user },
    env: ctx.env,
    ...files,
    ...(maxSurlsPerRequest ? { maxSurlsPerRequest } : {}),
  });
  return createStagerClient(settings);
}

const ID_ARG = [{ name: 'id', description: 'staging request id (as printed by lrt stage submit)' }];
const DEFAULT_TIMEOUT_S = 2 * 24 * 3600;

const stageSubmit = defineCommand({
  path: ['stage', 'submit'],
  summary: 'submit a SURL list to the LTA stager as one staging request; prints the request id',
  json: '{ids: [ID], surls, obsid, site}',
  description:
    'The whole list goes in one request (the stager e-mails you twice per request); only a list\n' +
    'longer than --max-per-request is split, one id per part.',
  options: {
    'max-per-request': {
      type: 'integer',
      default: DEFAULT_MAX_SURLS_PER_REQUEST,
      value: 'N',
      description: `SURLs per request before the list is split (default ${DEFAULT_MAX_SURLS_PER_REQUEST})`,
    },
    'no-notify': { type: 'boolean', description: 'ask the stager not to send its e-mails' },
    ...STAGER_OPTIONS,
  },
  positionals: [{ name: 'file', description: 'SURL list: one srm:// link per line' }],
  examples: ['lrt stage submit srm.txt', 'ID=$(lrt stage submit srm.txt) && lrt stage wait $ID'],
  async run(ctx) {
    const file = ctx.positionals[0]!;
    const list = await readSurlListFile(resolve(ctx.cwd, file), file);
    const stager = await stagerFromContext(ctx, ctx.options['max-per-request']);
    const ids = await stager.stage(list.surls(), { notify: !ctx.options['no-notify'] });
    ctx.out.result({ ids, surls: list.size, obsid: list.obsid, site: list.site });
    for (const id of ids) ctx.out.line(String(id));
    ctx.out.note(
      `staging ${countOf(list.size, 'SURL')} of ${list.obsid} at ${list.site}: request ${ids.join(', ')}`,
    );
    return EXIT.ok;
  },
});

const stageStatus = defineCommand({
  path: ['stage', 'status'],
  summary: 'show the status of a staging request (new, scheduled, in progress, success)',
  json: '{id, status, progress: {id, status, fileCount, filesDone, percentDone, location, userId, flaggedAbort} | null}',
  options: { ...STAGER_OPTIONS },
  positionals: ID_ARG,
  async run(ctx) {
    const id = parseRequestId(ctx.positionals[0]!);
    const stager = await stagerFromContext(ctx);
    const status = await stager.status(id);
    const progress = isFinishedStatus(status)
      ? undefined
      : (await stager.progress()).find((r) => r.id === id);
    ctx.out.result({ id, status, progress: progress ?? null });
    const files = progress
      ? `  ${progress.filesDone}/${progress.fileCount} files (${progress.percentDone}%)  ${progress.location}`
      : '';
    ctx.out.line(`${id}  ${status}${files}`);
    return EXIT.ok;
  },
});

const stageList = defineCommand({
  path: ['stage', 'list'],
  summary: 'list your running staging requests with their progress',
  json: '{count, requests: [{id, status, fileCount, filesDone, percentDone, location, userId, flaggedAbort}]}',
  options: {
    status: { type: 'string', value: 'S', description: 'only requests with this status' },
    ...STAGER_OPTIONS,
  },
  async run(ctx) {
    const wanted = ctx.options.status;
    const requests = (await (await stagerFromContext(ctx)).progress()).filter(
      (r) => !wanted || r.status === wanted,
    );
    ctx.out.result({ count: requests.length, requests });
    if (requests.length === 0) ctx.out.note('no running staging requests');
    else for (const line of progressTable(requests)) ctx.out.line(line);
    return EXIT.ok;
  },
});

const stageSurls = defineCommand({
  path: ['stage', 'surls'],
  summary: 'print the SURLs of a staging request that are already online',
  json: '{id, surls: [SURL]}',
  options: { ...STAGER_OPTIONS },
  positionals: ID_ARG,
  async run(ctx) {
    const id = parseRequestId(ctx.positionals[0]!);
    const surls = await (await stagerFromContext(ctx)).stagedSurls(id);
    ctx.out.result({ id, surls });
    for (const surl of surls) ctx.out.line(surl);
    ctx.out.note(`${countOf(surls.length, 'SURL')} of request ${id} online`);
    return EXIT.ok;
  },
});

function simpleCall(name: 'abort' | 'reschedule', summary: string, done: string) {
  return defineCommand({
    path: ['stage', name],
    summary,
    json: `{id, ${name === 'abort' ? 'aborted' : 'rescheduled'}: true, answer}`,
    options: { ...STAGER_OPTIONS },
    positionals: ID_ARG,
    async run(ctx) {
      const id = parseRequestId(ctx.positionals[0]!);
      const answer = await (await stagerFromContext(ctx))[name](id);
      ctx.out.result({ id, [name === 'abort' ? 'aborted' : 'rescheduled']: true, answer });
      ctx.out.line(`${done} ${id}`);
      return EXIT.ok;
    },
  });
}

const stageWait = defineCommand({
  path: ['stage', 'wait'],
  summary: 'wait for a staging request to finish (progress bar), then summarise what is online',
  json:
    '{id, status, fileCount, online: [SURL], flaggedAbort, total, missing: [SURL]}; after Ctrl-C:\n' +
    ' {id, status, fileCount, filesDone, interrupted: true}',
  options: {
    interval: { type: 'seconds', default: 30, value: 'S', description: 'seconds between polls (default 30)' },
    timeout: {
      type: 'seconds',
      default: DEFAULT_TIMEOUT_S,
      value: 'S',
      description: `give up after S seconds (default ${DEFAULT_TIMEOUT_S})`,
    },
    srm: {
      type: 'string',
      value: 'FILE',
      description: 'the SURL list staged: name the files that are not online',
    },
    ...STAGER_OPTIONS,
  },
  positionals: ID_ARG,
  async run(ctx) {
    const id = parseRequestId(ctx.positionals[0]!);
    const { srm } = ctx.options;
    const list = srm ? await readSurlListFile(resolve(ctx.cwd, srm), srm) : undefined;
    const stager = await stagerFromContext(ctx);
    let bar: ReturnType<typeof ctx.out.progress> | undefined;
    let shown = 0;
    let lastStatus = '';
    let fileCount: number | undefined;
    // Ctrl-C stops the waiting, not the staging: say where the request stands and how to wait again.
    const stop = stopOnSignal();
    let result: Awaited<ReturnType<typeof waitForRequest>>;
    try {
      result = await waitForRequest(stager, id, {
        intervalMs: ctx.options.interval * 1000,
        timeoutMs: ctx.options.timeout * 1000,
        sleep: (ms) => sleep(ms, stop.signal),
        onPoll: (status, request) => {
          if (status !== lastStatus && status === 'on hold')
            ctx.out.note(`request ${id} is on hold: 'lrt stage reschedule ${id}'`);
          lastStatus = status;
          if (!request) return;
          fileCount = request.fileCount;
          bar ??= ctx.out.progress(`staging ${id}`, request.fileCount);
          bar.tick(request.filesDone - shown);
          shown = request.filesDone;
        },
      });
    } catch (err) {
      if (!stop.signal.aborted) throw err;
      bar?.done();
      ctx.out.result({ id, status: lastStatus, fileCount, filesDone: shown, interrupted: true });
      const files = fileCount === undefined ? '' : ` (${shown}/${fileCount} files online)`;
      ctx.out.note(
        `interrupted: stopped waiting; request ${id} is "${lastStatus}"${files} and goes on at the stager; 'lrt stage wait ${id}' waits again`,
      );
      return EXIT.interrupted;
    } finally {
      stop.dispose();
    }
    // A finished request has left the progress list: the bar ends at what is online.
    bar?.tick(result.online.length - shown);
    bar?.done();
    const total = list?.size ?? result.fileCount ?? result.online.length;
    const onlineSet = new Set(result.online);
    const missing = list ? list.surls().filter((s) => !onlineSet.has(s)) : [];
    ctx.out.result({ ...result, total, missing });
    ctx.out.line(`request ${id}: ${result.status}; ${result.online.length} of ${total} files online`);
    for (const surl of missing) ctx.out.line(`not online: ${surl}`);
    if (result.status === 'aborted' || result.flaggedAbort || result.status === 'failed') {
      throw new LrtError(
        'E_STAGER',
        `staging request ${id} ended "${result.flaggedAbort ? 'aborted' : result.status}"`,
      );
    }
    return missing.length > 0 || result.online.length < total ? EXIT.partial : EXIT.ok;
  },
});

/**
 * `stage release --watch`: the passes until no token is left in staging, or the exit code after
 * Ctrl-C, which stops it between passes (tokens released so far stay released) with a summary.
 */
async function watchUntilStopped(
  ctx: ContextWith<{ interval: number; timeout: number }>,
  picas: ReturnType<typeof picasFromContext>,
  type: string,
  options: ReleaseOptions,
): Promise<ReleaseReport[] | number> {
  const stop = stopOnSignal();
  const passes: ReleaseReport[] = [];
  try {
    return await watchRelease(picas, type, {
      ...options,
      intervalMs: ctx.options.interval * 1000,
      timeoutMs: ctx.options.timeout * 1000,
      sleep: (ms) => sleep(ms, stop.signal),
      onPass: (r, n) => {
        passes.push(r);
        for (const id of r.released) ctx.out.line(id);
        ctx.out.note(`pass ${n}: ${describeReleasePass(r)}`);
      },
    });
  } catch (err) {
    const last = passes.at(-1);
    if (!stop.signal.aborted || !last) throw err;
    const released = passes.flatMap((p) => p.released);
    ctx.out.result({ type, via: options.via, passes: passes.length, ...last, released, interrupted: true });
    ctx.out.note(
      `interrupted after ${countOf(passes.length, 'pass', 'passes')}: ${countOf(released.length, 'token')} released in all, ` +
        `${last.waiting.length + last.unknown.length} still in staging; the same command goes on`,
    );
    return EXIT.interrupted;
  } finally {
    stop.dispose();
  }
}

function stageRelease(deps: LocalityDeps) {
  return defineCommand({
    path: ['stage', 'release'],
    summary: 'move staging tokens to todo as soon as all of their SURLs are online',
    json:
      '{type, via, passes, staging, released: [ID], waiting: [{id, ...}], unknown: [{id, reason}],\n' +
      ' skipped: [{id, reason}], interrupted? (true after Ctrl-C with --watch)}',
    description:
      'Finds the tokens of the type in status staging, reads their srm.txt, asks the stager\n' +
      '(getstagedurls of their requests; default) or gfal (--via gfal: user.status of each SURL)\n' +
      'which files are online, and moves every token whose files are all online to todo.\n' +
      'With --watch, repeats every --interval seconds until no token is left in staging.',
    options: {
      type: { type: 'string', value: 'T', description: 'token type' },
      via: { type: 'string', default: 'stager', value: 'HOW', description: 'stager (default) or gfal' },
      watch: { type: 'boolean', description: 'repeat until no token is left in staging' },
      interval: {
        type: 'seconds',
        default: 60,
        value: 'S',
        description: 'seconds between passes with --watch (default 60)',
      },
      timeout: {
        type: 'seconds',
        default: DEFAULT_TIMEOUT_S,
        value: 'S',
        description: `with --watch, give up after S seconds (default ${DEFAULT_TIMEOUT_S})`,
      },
      ...LOCALITY_OPTIONS,
      ...PICAS_OPTIONS,
      ...STAGER_OPTIONS,
    },
    examples: [
      'lrt stage release --type pref_cal1',
      'lrt stage release --type pref_cal1 --watch --interval 300',
    ],
    async run(ctx) {
      const { type, via, watch } = ctx.options;
      if (!type) throw new LrtError('E_USAGE', "--type is required. Run 'lrt stage release --help'.");
      if (via !== 'stager' && via !== 'gfal')
        throw new LrtError('E_USAGE', `--via must be stager or gfal, got "${via}"`);
      const picas = picasFromContext(ctx);
      const options: ReleaseOptions = {
        via,
        concurrency: ctx.options.concurrency,
        anySite: ctx.options['any-site'],
        ...(deps.linkOf ? { linkOf: deps.linkOf } : {}),
        ...(via === 'stager'
          ? { stager: await stagerFromContext(ctx) }
          : { runner: await detectLocalityRunner(parseGfalTool(ctx.options.tool), { env: ctx.env }) }),
      };
      const passes = watch
        ? await watchUntilStopped(ctx, picas, type, options)
        : [await releaseStagedTokens(picas, type, options)];
      if (typeof passes === 'number') return passes;
      const last = passes.at(-1)!;
      if (!watch) {
        for (const id of last.released) ctx.out.line(id);
        ctx.out.note(`${type}: ${last.staging} in staging; ${describeReleasePass(last)}`);
      }
      for (const u of last.unknown) ctx.out.note(`undecided: ${u.id}: ${u.reason}`);
      ctx.out.result({
        type,
        via,
        passes: passes.length,
        ...last,
        released: passes.flatMap((p) => p.released),
      });
      return EXIT.ok;
    },
  });
}

export function makeStageCommands(deps: LocalityDeps = {}): Command[] {
  return [
    stageSubmit,
    stageStatus,
    stageList,
    stageSurls,
    simpleCall(
      'abort',
      'abort a running staging request (or release the data of a finished one)',
      'abort requested for',
    ),
    simpleCall('reschedule', 'reschedule a staging request that was put on hold', 'rescheduled'),
    stageWait,
    stageRelease(deps),
  ];
}

export const stageCommands: Command[] = makeStageCommands();
