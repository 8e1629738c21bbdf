import { basename, join, resolve } from 'node:path';
import { countOf, dropPasswordsFromEnv, LrtError, outputFolderProblem, redactUrl } from '../../core';
import type { PicasDb } from '../../picas/client';
import { queryView, resolveView } from '../../picas/viewQuery';
import { PILOT_OPTIONS } from '../../pilot/settings';
import { defaultPilotPath } from '../../sandbox/build';
import {
  assertPilot,
  CREDENTIALS_FILE,
  type CredentialsSource,
  ensureNodeRuntime,
  haveTool,
  JDL_FLAVOURS,
  JDL_SUBMITTERS,
  type JdlFlavour,
  jdlFor,
  localPilotCommand,
  NODE_RUNTIME,
  PASSED_PILOT_OPTIONS,
  PILOT_FILE,
  type PilotLaunch,
  parseWalltime,
  placeSharedCredentials,
  RUNTIME_FILE,
  runLocalPilots,
  runSubmitter,
  START_SCRIPT,
  type Submitter,
  sharedCredentialsPath,
  shellQuote,
  slurmFor,
  toolOf,
  unreachableFromWorkers,
  writeJdlJob,
  writeSlurmJob,
  writeSubmission,
} from '../../submit';
import { type CommandContext, defineCommand } from '../command';
import { EXIT } from '../exitCodes';
import { defineOptions, type OptionSpec } from '../options';
import { PICAS_OPTIONS, picasFromContext } from '../picasOptions';
import { stopOnSignal } from '../stopSignal';
import { TYPE_OPTION, tokenType } from './status';

const BACKENDS = ['jdl', 'slurm', 'local'] as const;
type Backend = (typeof BACKENDS)[number];

type PassedName = (typeof PASSED_PILOT_OPTIONS)[number];
/** Without the pilot's defaults: what the user did not give is left to the pilot. */
type PassedOptions = {
  [K in PassedName]: Omit<(typeof PILOT_OPTIONS)[K], 'description' | 'default'> & { description: string };
};

/** The pilot's own options that `lrt submit` passes on: the pilot's declaration, checked here already. */
const PASSED_OPTIONS = Object.fromEntries(
  PASSED_PILOT_OPTIONS.map((name) => {
    const spec: OptionSpec = PILOT_OPTIONS[name];
    const passed = { ...spec, description: `pilot: ${spec.description}` };
    if ('default' in passed) delete passed.default;
    return [name, passed];
  }),
) as PassedOptions;

function passedArgs(ctx: CommandContext<PassedOptions>): string[] {
  const args: string[] = [];
  for (const name of PASSED_PILOT_OPTIONS) {
    const value: unknown = ctx.options[name];
    if (value === true) args.push(`--${name}`);
    else if (typeof value === 'string' || typeof value === 'number') args.push(`--${name}`, String(value));
  }
  return args;
}

function backendOf(backend: string | undefined): Backend {
  if (!backend || !(BACKENDS as readonly string[]).includes(backend)) {
    throw new LrtError(
      'E_USAGE',
      `--backend must be one of ${BACKENDS.join(', ')}${backend ? `, got "${backend}"` : ''}`,
    );
  }
  return backend as Backend;
}

/** Tokens waiting in the view the pilots claim from (its total_rows). */
async function workIn(picas: PicasDb, type: string, view: string): Promise<number> {
  const resolved = await resolveView(picas, type, view);
  return (await queryView(picas, resolved, { limit: 0 })).total_rows ?? 0;
}

function stamp(): string {
  return new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
    .replace('T', '-');
}

const FLAVOUR_TOOL: Record<JdlFlavour, Submitter> = {
  glite: 'glite-wms-job-submit',
  dirac: 'dirac-wms-job-submit',
};

/**
 * The JDL dialect and the tool that submits it: --flavour picks the tool, --submitter or the
 * first tool installed picks the flavour; with neither, a gLite JDL and no tool.
 */
async function jdlTarget(
  ctx: CommandContext<typeof SUBMIT_OPTIONS>,
): Promise<{ flavour: JdlFlavour; tool?: { tool: Submitter; executable: string } }> {
  const { flavour: askedFlavour, submitter: asked } = ctx.options;
  if (askedFlavour !== undefined && !(JDL_FLAVOURS as readonly string[]).includes(askedFlavour)) {
    throw new LrtError('E_USAGE', `--flavour must be ${JDL_FLAVOURS.join(' or ')}, got "${askedFlavour}"`);
  }
  const flavourOf = (tool: Submitter): JdlFlavour => (tool === 'dirac-wms-job-submit' ? 'dirac' : 'glite');
  if (asked) {
    const tool = toolOf(asked);
    if (!tool || tool === 'sbatch') {
      throw new LrtError(
        'E_USAGE',
        `--submitter for JDL must be ${JDL_SUBMITTERS.join(' or ')}, got ${asked}`,
      );
    }
    if (askedFlavour && askedFlavour !== flavourOf(tool)) {
      throw new LrtError('E_USAGE', `--flavour ${askedFlavour} JDL cannot be submitted with ${asked}`);
    }
    return { flavour: flavourOf(tool), tool: { tool, executable: asked } };
  }
  if (askedFlavour) {
    const tool = FLAVOUR_TOOL[askedFlavour as JdlFlavour];
    const found = await haveTool(tool, ctx.env);
    return { flavour: askedFlavour as JdlFlavour, tool: found ? { tool, executable: tool } : undefined };
  }
  for (const tool of JDL_SUBMITTERS) {
    if (await haveTool(tool, ctx.env)) return { flavour: flavourOf(tool), tool: { tool, executable: tool } };
  }
  return { flavour: 'glite' };
}

const SUBMIT_OPTIONS = defineOptions({
  backend: { type: 'string', value: 'jdl|slurm|local', description: 'how to launch the pilots' },
  count: { type: 'integer', short: 'n', default: 1, value: 'N', description: 'number of pilots (default 1)' },
  ...TYPE_OPTION,
  out: { type: 'string', value: 'DIR', description: 'job folder (default ./lrt-jobs/TYPE-<time>)' },
  'dry-run': { type: 'boolean', description: 'print the job description; write and submit nothing' },
  force: {
    type: 'boolean',
    description: 'submit even when the view has no work, or (jdl) PICAS_URL looks unreachable from workers',
  },
  'no-submit': { type: 'boolean', description: 'write the job folder but run no submission tool' },
  credentials: {
    type: 'string',
    value: 'FILE',
    description: 'credentials file for the pilots (mode 0600)',
  },
  pilot: {
    type: 'string',
    value: 'FILE',
    description: 'pilot bundle (default dist/pilot.js of this package)',
  },
  node: {
    type: 'string',
    value: 'PATH',
    description: 'node on the worker (default: node; local: this node)',
  },
  'with-runtime': {
    type: 'boolean',
    description: `jdl, slurm: ship Node.js ${NODE_RUNTIME.version} (npm ${NODE_RUNTIME.package}, checksum-checked) for workers without node >= 18`,
  },
  submitter: {
    type: 'string',
    value: 'PATH',
    description: 'submission tool to run (default: found on PATH)',
  },
  cpus: {
    type: 'integer',
    value: 'N',
    description: 'cores per pilot (gLite CPUNumber, DIRAC NumberOfProcessors, Slurm --cpus-per-task)',
  },
  flavour: {
    type: 'string',
    value: 'glite|dirac',
    description: 'jdl: JDL dialect (default: of the submit tool found, else glite)',
  },
  'whole-node': {
    type: 'boolean',
    description: 'jdl: a whole node (gLite WholeNodes, DIRAC Tags WholeNode)',
  },
  requirements: {
    type: 'string',
    value: 'EXPR',
    description: 'jdl (gLite only): Requirements ClassAd expression',
  },
  partition: { type: 'string', value: 'NAME', description: 'slurm: partition' },
  concurrent: {
    type: 'integer',
    value: 'C',
    description: 'slurm: at most C tasks at once (--array 1-N%C)',
  },
  mem: { type: 'string', value: 'SIZE', description: 'slurm: memory per node, e.g. 8G' },
  account: { type: 'string', value: 'NAME', description: 'slurm: account to charge (--account)' },
  'sbatch-arg': {
    type: 'string',
    value: '--OPT[=V]',
    multiple: true,
    description: 'slurm: one more #SBATCH option, written --sbatch-arg=--qos=short',
  },
  walltime: {
    type: 'string',
    value: 'TIME',
    description: 'S, H:M:S or D-H:M:S: slurm --time, and the pilot stops claiming before it ends',
  },
  ...PASSED_OPTIONS,
  ...PICAS_OPTIONS,
});

export const submit = defineCommand({
  path: ['submit'],
  summary: 'launch pilots: a parametric grid JDL, a Slurm array job, or local pilot processes',
  json:
    '{backend, dir, submitted, work, file?, tool?, jobIds?: [ID], pilots?: [{index, pid, log, exitCode, signal}],\n' +
    ' interrupted? (local, after Ctrl-C), count?, description?, reason?}',
  description:
    'Submits only when the view the pilots claim from (--view, default todo) has tokens (--force:\n' +
    'submit anyway). The PiCaS password never goes into a job description: the pilots read a 0600\n' +
    'credentials file (written from your PiCaS settings into the job folder, or --credentials FILE,\n' +
    'e.g. for a restricted CouchDB user). jdl: pilots.jdl + lrt-pilot.sh + pilot.js + the credentials in\n' +
    'the InputSandbox, in the gLite or DIRAC dialect (--flavour, else that of the tool found),\n' +
    'submitted with dirac-wms-job-submit or glite-wms-job-submit when present; a PICAS_URL workers\n' +
    'cannot reach (127.0.0.1, localhost, a single-label name) is refused without --force.\n' +
    "slurm: pilots.slurm with --array 1-N%C running the job folder's copy of pilot.js, submitted with\n" +
    'sbatch. local: N pilot processes, logs in the job folder as pilot-<i>.log; lrt waits for them\n' +
    '(Ctrl-C stops them: each gives its token back; exit 130).\n' +
    'Every submission leaves submission.json (backend, job ids, type, time, files) for lrt jobs\n' +
    'status|cancel|logs; a local one as soon as its pilots have started, so those work from another\n' +
    'terminal while lrt waits. --dry-run prints the job description only.',
  options: SUBMIT_OPTIONS,
  examples: [
    'lrt submit --backend jdl -n 50 --type pref_cal1 --dry-run',
    'lrt submit --backend slurm -n 100 --concurrent 20 --cpus 4 --partition normal --walltime 12:00:00 --type pref_cal1',
    'lrt submit --backend local -n 4 --type demo --max-tokens 10',
    'lrt submit --backend jdl --flavour dirac -n 50 --cpus 8 --type pref_targ1',
    'lrt submit --backend slurm -n 8 --account lofar --sbatch-arg=--qos=short --type pref_cal1',
  ],
  async run(ctx) {
    const backend = backendOf(ctx.options.backend);
    const type = tokenType(ctx);
    const { count, cpus, node } = ctx.options;
    const picas = picasFromContext(ctx);
    const { settings } = picas;
    const dir = resolve(ctx.cwd, ctx.options.out ?? join('lrt-jobs', `${type}-${stamp()}`));
    const credentialsFile = ctx.options.credentials;
    const source: CredentialsSource = credentialsFile
      ? { file: resolve(ctx.cwd, credentialsFile) }
      : { settings };
    const pilotPath = resolve(ctx.cwd, ctx.options.pilot ?? defaultPilotPath());
    const walltime = ctx.options.walltime !== undefined ? parseWalltime(ctx.options.walltime) : undefined;
    const extraArgs = passedArgs(ctx);
    if (walltime && backend !== 'slurm') extraArgs.push('--walltime', String(walltime));
    const launch: PilotLaunch = {
      url: settings.url,
      database: settings.database,
      type,
      credentialsFile: backend === 'jdl' ? CREDENTIALS_FILE : sharedCredentialsPath(source, dir),
      extraArgs,
    };
    const runtime =
      ctx.options['with-runtime'] && backend !== 'local'
        ? await ensureNodeRuntime(ctx.env, (text) => ctx.out.note(text))
        : undefined;
    const target = backend === 'jdl' ? await jdlTarget(ctx) : undefined;
    const jdl =
      backend === 'jdl'
        ? jdlFor(dir, {
            runtime,
            flavour: target!.flavour,
            count,
            launch,
            cpus,
            wholeNode: ctx.options['whole-node'],
            requirements: ctx.options.requirements,
          })
        : undefined;
    const slurm =
      backend === 'slurm'
        ? slurmFor(dir, {
            runtime,
            count,
            launch,
            cpus,
            partition: ctx.options.partition,
            walltime,
            mem: ctx.options.mem,
            account: ctx.options.account,
            sbatchArgs: ctx.options['sbatch-arg'],
            concurrent: ctx.options.concurrent,
            node,
          })
        : undefined;
    const localCommand =
      backend === 'local' ? localPilotCommand({ launch, pilotPath, dir, node }) : undefined;
    const description =
      jdl?.text ?? slurm?.text ?? `${localCommand!.map(shellQuote).join(' ')}\n`.repeat(count);

    const unreachable = unreachableFromWorkers(settings.url);
    if (ctx.options['dry-run']) {
      ctx.out.result({ backend, dir, count, description });
      ctx.out.line(description.replace(/\n$/, ''));
      // The job described would not reach the database: say so now, not first at the real submit.
      if (unreachable && backend === 'jdl' && !ctx.options.force)
        ctx.out.note(
          `warning: PICAS_URL ${redactUrl(settings.url)} cannot be reached from grid worker nodes: ${unreachable}; the submission is refused without --force (use the database's public URL, --url)`,
        );
      return EXIT.ok;
    }

    if (unreachable && backend === 'jdl' && !ctx.options.force) {
      throw new LrtError(
        'E_CONFIG',
        `PICAS_URL ${redactUrl(settings.url)} cannot be reached from grid worker nodes: ${unreachable}. ` +
          "Use the database's public URL (--url), or --force to submit anyway",
      );
    }
    if (unreachable && backend === 'slurm') {
      ctx.out.note(`PICAS_URL: ${unreachable}; only pilots on this node will reach it`);
    }
    const view = ctx.options.view ?? 'todo';
    const work = await workIn(picas, type, view);
    if (work === 0 && !ctx.options.force) {
      ctx.out.result({ backend, submitted: false, work, reason: `no tokens in view ${view}` });
      ctx.out.note(`no tokens of type ${type} in view ${view}: nothing submitted (--force submits anyway)`);
      return EXIT.ok;
    }
    if (work < count)
      ctx.out.note(`${countOf(count, 'pilot')} for ${countOf(work, 'token')} in view ${view}`);
    if (backend === 'jdl' && !runtime && !node) {
      ctx.out.note(
        'grid workers without node >= 18 end the job with exit 127: --with-runtime ships Node.js with it',
      );
    }

    // Nothing is written (not even the credentials file) until the pilot and the folder are known good.
    await assertPilot(pilotPath);
    const folderProblem = await outputFolderProblem(dir);
    if (folderProblem)
      throw new LrtError('E_IO', `cannot write the job folder ${dir}: ${folderProblem}`, {
        details: { dir },
      });
    if (backend === 'local') return runLocal(ctx, { dir, count, launch, pilotPath, source, work });
    await placeSharedCredentialsFor(backend, source, dir);
    const job = (jdl ?? slurm)!;
    if (jdl) await writeJdlJob(jdl, launch, { pilotPath, credentials: source, node });
    if (slurm) await writeSlurmJob(slurm, pilotPath);
    const tool =
      backend === 'jdl'
        ? target!.tool
        : { tool: 'sbatch' as Submitter, executable: ctx.options.submitter ?? 'sbatch' };
    const installed = tool && (ctx.options.submitter || (await haveTool(tool.executable, ctx.env)));
    if (ctx.options['no-submit'] || !tool || !installed) {
      ctx.out.result({ backend, dir, file: job.file, submitted: false, work });
      ctx.out.line(job.file);
      if (!ctx.options['no-submit']) {
        const wanted =
          backend === 'jdl'
            ? ctx.options.flavour
              ? FLAVOUR_TOOL[target!.flavour]
              : JDL_SUBMITTERS.join(' or ')
            : 'sbatch';
        throw new LrtError(
          'E_TOOL_MISSING',
          `${wanted} not found on PATH: wrote ${job.file}, submit it from a node that has it`,
        );
      }
      return EXIT.ok;
    }
    const outcome = await runSubmitter(tool.tool, tool.executable, job.file, {
      cwd: dir,
      env: withoutPassword(ctx.env),
    });
    const record = await writeSubmission({
      version: 1,
      backend,
      tool: outcome.tool,
      ...(target ? { flavour: target.flavour } : {}),
      jobIds: outcome.jobIds,
      count,
      type,
      database: settings.database,
      url: redactUrl(settings.url),
      submittedAt: new Date().toISOString(),
      dir,
      files: jobFiles(backend, job.file, runtime !== undefined),
    });
    ctx.out.result({
      backend,
      dir,
      file: job.file,
      submitted: true,
      work,
      tool: outcome.tool,
      jobIds: outcome.jobIds,
      submission: record,
    });
    for (const id of outcome.jobIds) ctx.out.line(id);
    ctx.out.note(`submitted ${countOf(count, 'pilot')} with ${outcome.tool}; job folder ${dir}`);
    return EXIT.ok;
  },
});

/** The files of a job folder, relative to it, for submission.json. */
function jobFiles(backend: Backend, jobFile: string, withRuntime: boolean): Record<string, string> {
  const files: Record<string, string> = { job: basename(jobFile), pilot: PILOT_FILE };
  if (withRuntime) files.runtime = RUNTIME_FILE;
  if (backend === 'jdl') files.startScript = START_SCRIPT;
  if (backend === 'slurm') files.logs = 'logs';
  return files;
}

/** Pilots and submission tools get the password from the credentials file only. */
function withoutPassword(env: Record<string, string | undefined>): Record<string, string | undefined> {
  // sbatch exports this environment into every task: a PICAS_URL with user:password@ must go too.
  const clean = { ...env };
  dropPasswordsFromEnv(clean);
  return clean;
}

/** JDL ships its own copy in the InputSandbox (written by writeJdlJob); Slurm reads it in place. */
async function placeSharedCredentialsFor(backend: Backend, source: CredentialsSource, dir: string) {
  if (backend !== 'jdl') await placeSharedCredentials(source, dir);
}

async function runLocal(
  ctx: CommandContext<typeof SUBMIT_OPTIONS>,
  job: {
    dir: string;
    count: number;
    launch: PilotLaunch;
    pilotPath: string;
    source: CredentialsSource;
    work: number;
  },
): Promise<number> {
  await assertPilot(job.pilotPath);
  await placeSharedCredentials(job.source, job.dir);
  const env = withoutPassword(ctx.env);
  const stop = stopOnSignal();
  try {
    ctx.out.note(`running ${countOf(job.count, 'pilot')}; logs in ${job.dir}`);
    const startedAt = new Date().toISOString();
    // Written as soon as every pilot has its pid, so 'lrt jobs status|cancel' of this folder
    // (from another terminal) reach the pilots while lrt still waits for them.
    const pids: string[] = [];
    let started = 0;
    let recorded: Promise<unknown> | undefined;
    const pilots = await runLocalPilots({
      count: job.count,
      launch: job.launch,
      pilotPath: job.pilotPath,
      node: ctx.options.node,
      dir: job.dir,
      env,
      signal: stop.signal,
      onStart: ({ pid }) => {
        if (pid !== undefined) pids.push(String(pid));
        if (++started === job.count) {
          recorded = writeSubmission({
            version: 1,
            backend: 'local',
            jobIds: pids,
            count: job.count,
            type: job.launch.type,
            database: job.launch.database,
            url: job.launch.url,
            submittedAt: startedAt,
            dir: job.dir,
            files: { logs: '.' },
          });
          // Awaited once the pilots end; a failed write must not crash lrt meanwhile as unhandled.
          recorded.catch(() => undefined);
        }
      },
    });
    await recorded;
    const interrupted = stop.signal.aborted;
    ctx.out.result({
      backend: 'local',
      dir: job.dir,
      submitted: true,
      work: job.work,
      pilots,
      ...(interrupted ? { interrupted } : {}),
    });
    for (const p of pilots) {
      ctx.out.line(
        `pilot ${p.index}: ${p.exitCode === 0 ? 'ok' : `exit ${p.exitCode ?? p.signal}`}  ${p.log}`,
      );
    }
    if (interrupted) {
      ctx.out.note(
        `interrupted: ${countOf(job.count, 'pilot')} stopped by Ctrl-C; a stopped pilot gives its token back to todo (logs and submission.json in ${job.dir})`,
      );
      return EXIT.interrupted;
    }
    const failed = pilots.filter((p) => p.exitCode !== 0).length;
    return failed === 0 ? EXIT.ok : failed === pilots.length ? EXIT.failure : EXIT.partial;
  } finally {
    stop.dispose();
  }
}

export const submitCommands = [submit];
