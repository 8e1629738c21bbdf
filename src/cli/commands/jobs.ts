import { resolve } from 'node:path';
import { countOf } from '../../core';
import {
  cancelJobs,
  countStates,
  jobsStatus,
  pilotLogs,
  readSubmission,
  SUBMISSION_FILE,
  submissionFolders,
} from '../../submit';
import { type CommandContext, defineCommand } from '../command';
import { EXIT } from '../exitCodes';

const DIR_ARG = [{ name: 'dir', description: `job folder of one submission (holds ${SUBMISSION_FILE})` }];

function folder(ctx: CommandContext): string {
  return resolve(ctx.cwd, ctx.positionals[0]!);
}

const list = defineCommand({
  path: ['jobs', 'list'],
  summary: 'the submissions under a folder: backend, type, pilots, job ids, time',
  json: '{root, submissions: [{backend, tool?, flavour?, jobIds, count, type, database, url, submittedAt, dir, files}]}',
  description: `Reads ${SUBMISSION_FILE} of every job folder directly under --root (lrt submit writes\nits folders to ./lrt-jobs unless given --out).`,
  options: {
    root: {
      type: 'string',
      default: 'lrt-jobs',
      value: 'DIR',
      description: 'folder of job folders (default ./lrt-jobs)',
    },
  },
  examples: ['lrt jobs list', 'lrt jobs list --root /project/lofar/jobs --json'],
  async run(ctx) {
    const root = resolve(ctx.cwd, ctx.options.root);
    const submissions = [];
    for (const dir of await submissionFolders(root)) submissions.push(await readSubmission(dir));
    ctx.out.result({ root, submissions });
    for (const s of submissions) {
      const ids = s.jobIds.length > 3 ? `${s.jobIds.slice(0, 3).join(' ')} ...` : s.jobIds.join(' ');
      ctx.out.line(
        `${s.submittedAt}  ${s.backend.padEnd(5)} ${countOf(s.count, 'pilot').padStart(10)}  ${s.type}  ${s.dir}  ${ids}`,
      );
    }
    if (submissions.length === 0) ctx.out.note(`no job folders with ${SUBMISSION_FILE} under ${root}`);
    return EXIT.ok;
  },
});

const status = defineCommand({
  path: ['jobs', 'status'],
  summary: "the state of a submission's jobs, from the batch system or grid",
  json: '{dir, backend, jobs: [{id, state, detail, parent?}], source, gone: [ID], counts: {STATE: N}}',
  description:
    'Slurm: squeue (every array task), then sacct once squeue has forgotten the job (sacct needs\n' +
    'Slurm accounting). gLite: glite-wms-job-status; DIRAC: dirac-wms-job-status; ARC: arcstat.\n' +
    'Run it where those tools are installed. States: pending, running, done, failed, cancelled, unknown.',
  options: {},
  positionals: DIR_ARG,
  examples: ['lrt jobs status lrt-jobs/pref_cal1-20261206-101500Z', 'lrt jobs status DIR --json'],
  async run(ctx) {
    const submission = await readSubmission(folder(ctx));
    const report = await jobsStatus(submission, ctx.env);
    const counts = countStates(report.jobs);
    ctx.out.result({ dir: submission.dir, backend: submission.backend, ...report, counts });
    for (const job of report.jobs) {
      ctx.out.line(`${job.id}  ${job.parent ? 'parent ' : ''}${job.state.padEnd(9)} ${job.detail}`);
    }
    const summary = Object.entries(counts)
      .filter(([, n]) => n > 0)
      .map(([state, n]) => `${n} ${state}`)
      .join(', ');
    ctx.out.note(`${summary || 'no jobs reported'} (${report.source})`);
    if (report.gone.length > 0) {
      ctx.out.note(
        `${report.gone.join(' ')}: no longer known to ${report.source}${submission.backend === 'slurm' ? ' (finished jobs leave squeue after MinJobAge; sacct needs accounting)' : ''}`,
      );
    }
    return EXIT.ok;
  },
});

const cancel = defineCommand({
  path: ['jobs', 'cancel'],
  summary: "cancel a submission's jobs (scancel, glite-wms-job-cancel, dirac-wms-job-kill, arckill)",
  json: '{dir, backend, cancelled: [ID], output}',
  description:
    'The pilots get SIGTERM and give their tokens back to todo (Slurm sends SIGKILL KillWait\n' +
    'seconds later; grid middleware has its own grace). Local: only the processes that are still\n' +
    'pilots of the submission (their command line holds its work folder; pids are reused).',
  options: {},
  positionals: DIR_ARG,
  examples: ['lrt jobs cancel lrt-jobs/pref_cal1-20261206-101500Z'],
  async run(ctx) {
    const submission = await readSubmission(folder(ctx));
    const { cancelled, output } = await cancelJobs(submission, ctx.env);
    ctx.out.result({ dir: submission.dir, backend: submission.backend, cancelled, output });
    ctx.out.line(output);
    return EXIT.ok;
  },
});

const logs = defineCommand({
  path: ['jobs', 'logs'],
  summary: "the pilots' logs of a submission: the last lines of each, or all of one task",
  json: '{dir, backend, logs: [{task, file, text}], fetched}',
  description:
    'Slurm: logs/pilot-<job>_<task>.log in the job folder; local: pilot-<i>.log. Grid: the output\n' +
    'sandboxes are fetched into <dir>/output first (glite-wms-job-output, dirac-wms-job-get-output,\n' +
    "arcget). The tokens' own logs: lrt logs.",
  options: {
    task: { type: 'string', value: 'N', description: 'the whole log of array task / pilot N' },
    lines: { type: 'integer', default: 20, value: 'N', description: 'last N lines of each log (default 20)' },
  },
  positionals: DIR_ARG,
  examples: ['lrt jobs logs DIR', 'lrt jobs logs DIR --task 3'],
  async run(ctx) {
    const submission = await readSubmission(folder(ctx));
    const result = await pilotLogs(submission, ctx.env, {
      task: ctx.options.task,
      lines: ctx.options.lines,
    });
    ctx.out.result({ dir: submission.dir, backend: submission.backend, ...result });
    for (const log of result.logs) {
      ctx.out.line(`==> task ${log.task}: ${log.file} <==`);
      ctx.out.line(log.text);
    }
    if (result.logs.length === 0) ctx.out.note('no pilot logs yet');
    return EXIT.ok;
  },
});

export const jobsCommands = [list, status, cancel, logs];
