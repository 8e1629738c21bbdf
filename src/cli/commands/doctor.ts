import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { dropPasswordsFromEnv, errorMessage, LrtError } from '../../core';
import { resolvePicasSettings } from '../../picas/connectionSettings';
import { assertTokenType } from '../../picas/viewDefinitions';
import {
  CHECK_NAMES,
  DEFAULT_MIN_FREE_BYTES,
  defaultProxyPath,
  formatBytes,
  formatCheck,
  type PreflightSettings,
  parseSize,
  preflightPassed,
  runPreflight,
} from '../../pilot/check';
import { DEFAULT_SANDBOX_BASE } from '../../pilot/sandboxSource';
import { transferOptionsFromEnv } from '../../pilot/settings';
import { type CommandContext, defineCommand } from '../command';
import { EXIT } from '../exitCodes';
import { defineOptions } from '../options';
import { PICAS_OPTIONS } from '../picasOptions';

const DOCTOR_OPTIONS = defineOptions({
  type: {
    type: 'string',
    value: 'T',
    description: 'token type (default PICAS_TYPE): views, tokens, sandbox',
  },
  'expected-run': {
    type: 'seconds',
    value: 'S',
    description: 'seconds the pilots will run (their walltime): the proxy must outlive it',
  },
  workdir: { type: 'string', value: 'DIR', description: 'where job dirs go (default $TMPDIR or .)' },
  'min-free': {
    type: 'string',
    value: 'SIZE',
    description: `free space the work dir needs (default ${formatBytes(DEFAULT_MIN_FREE_BYTES)}; e.g. 500M, 50G)`,
  },
  'sandbox-base': { type: 'string', value: 'URL', description: 'base URL of relative SBXloc sandboxes' },
  skip: {
    type: 'string',
    value: 'CHECK',
    multiple: true,
    description: `leave a check out: ${CHECK_NAMES.join(', ')}`,
  },
  ...PICAS_OPTIONS,
});

function picasrcText(home: string): string | undefined {
  try {
    return readFileSync(join(home, '.picasrc'), 'utf8');
  } catch {
    return undefined;
  }
}

/** Settings resolved as `lrt` resolves them; a bad PiCaS setting becomes the database check's FAIL. */
function preflightSettings(ctx: CommandContext<typeof DOCTOR_OPTIONS>): PreflightSettings {
  const { skip, url, db, user } = ctx.options;
  const unknown = skip.filter((name) => !(CHECK_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new LrtError('E_USAGE', `--skip ${unknown.join(', ')}: the checks are ${CHECK_NAMES.join(', ')}`);
  }
  const type = ctx.options.type ?? ctx.env.PICAS_TYPE;
  if (type !== undefined) assertTokenType(type);
  let picas: PreflightSettings['picas'];
  try {
    picas = resolvePicasSettings({
      flags: { url, database: db, user },
      env: ctx.env,
      picasrc: picasrcText(ctx.home),
    });
  } catch (err) {
    picas = { error: errorMessage(err) };
  }
  const { 'expected-run': expected, 'min-free': minFree } = ctx.options;
  return {
    picas,
    ...(type !== undefined ? { type } : {}),
    workDir: resolve(ctx.cwd, ctx.options.workdir ?? ctx.env.TMPDIR ?? ctx.cwd),
    sandboxBase: ctx.options['sandbox-base'] ?? DEFAULT_SANDBOX_BASE,
    transfer: transferOptionsFromEnv(ctx.env),
    ...(expected !== undefined ? { expectedRunSeconds: expected } : {}),
    minFreeBytes: minFree === undefined ? DEFAULT_MIN_FREE_BYTES : parseSize(minFree, '--min-free'),
    path: ctx.env.PATH ?? '',
    defaultProxy: defaultProxyPath(),
    skip,
  };
}

export const doctor = defineCommand({
  path: ['doctor'],
  summary: 'preflight of a worker setup: database, views, tokens, sandbox, tools, proxy, disk',
  json: '{ok, checks: [{name, ok, skipped?, detail, indexBuild?: {builds, source}}]}',
  description:
    'Looks and claims nothing: no token is locked, nothing is written. One line per check\n' +
    '(ok, FAIL, or skip when what a check needs is missing); the exit code is 1 when a check\n' +
    "failed. 'pilot --check' runs the same checks with the pilot's settings.\n" +
    'A view index the server is still building (it answers "timeout", or holds the read) is\n' +
    'no failure of the database: the views check says so, with the progress /_active_tasks\n' +
    'shows (server admins only), and the tokens and sandbox checks are skipped until it is built.',
  options: DOCTOR_OPTIONS,
  examples: [
    'lrt doctor --type sksp_dev --expected-run 86400',
    'lrt doctor --skip proxy --skip tools --json',
  ],
  async run(ctx) {
    const settings = preflightSettings(ctx);
    // the probes start grid-proxy-info, git and gfal: they inherit this process's environment
    if (ctx.env === process.env) dropPasswordsFromEnv(process.env);
    const results = await runPreflight(settings);
    const passed = preflightPassed(results);
    ctx.out.result({ ok: passed, checks: results });
    for (const result of results) ctx.out.line(formatCheck(result));
    return passed ? EXIT.ok : EXIT.failure;
  },
});

export const doctorCommands = [doctor];
