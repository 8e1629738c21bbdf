import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSubmission, sbatchDirectives } from '../../src/submit';
import { lrt } from '../helpers/cli';
import { createPilotWorld, DIST_PILOT, demoTokens, type PilotWorld, waitFor } from '../helpers/pilotWorld';
import { viewIds } from '../helpers/seedTokens';
import { type SlurmTestbed, skipSlurm, startSlurmTestbed } from '../helpers/slurm';

/**
 * `lrt submit --backend slurm` against a real one-node Slurm (scripts/slurm-testbed.sh): sbatch,
 * slurmctld and slurmd start the pilots as array tasks, as on a cluster. master.sh records the
 * task it ran in and how many tasks of its array Slurm had running at that moment.
 */
const RECORDING_MASTER = `#!/bin/bash
running=$(squeue -h -r -j "$SLURM_ARRAY_JOB_ID" -t RUNNING | wc -l)
echo "$TOKEN task=$SLURM_ARRAY_TASK_ID running=$running" >> "$DEMO_LEDGER"
sleep "\${DEMO_SLEEP:-0.3}"
`;

let slurm: SlurmTestbed;

beforeAll(async () => {
  slurm = await startSlurmTestbed();
}, 60_000);

afterAll(async () => {
  await slurm?.stop();
});

function submitEnv(world: PilotWorld, extra: Record<string, string> = {}) {
  return { ...world.env, ...slurm.env, ...extra };
}

async function tasks(jobId: string): Promise<{ id: string; state: string }[]> {
  const out = await execa('squeue', ['-h', '-r', '-t', 'all', '-j', jobId, '-o', '%i %T'], {
    env: { ...process.env, ...slurm.env },
  });
  return out.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id, state] = line.split(' ');
      return { id: id!, state: state! };
    });
}

async function waitForTasks(jobId: string, count: number, states: string[], ms = 90_000) {
  return waitFor(
    async () => {
      const now = await tasks(jobId);
      return now.length === count && now.every((t) => states.includes(t.state)) ? now : undefined;
    },
    ms,
    `${count} task(s) of job ${jobId} in ${states.join('/')}`,
  );
}

async function submit(world: PilotWorld, dir: string, args: string[], env: Record<string, string> = {}) {
  const res = await lrt(
    [
      'submit',
      '--backend',
      'slurm',
      '--type',
      world.type,
      '--out',
      dir,
      '--pilot',
      DIST_PILOT,
      '--node',
      process.execPath,
      '--json',
      ...args,
    ],
    { env: submitEnv(world, env) },
  );
  expect(res.exitCode, res.stderr).toBe(0);
  return JSON.parse(res.stdout) as { jobIds: string[]; dir: string };
}

describe.skipIf(skipSlurm)('lrt submit --backend slurm on a real Slurm', () => {
  it('-n 8 runs an array job that drains every token; the pilot is the job folder copy', async () => {
    const world = await createPilotWorld({
      tokens: demoTokens('slurmdrain', 16),
      masterScript: RECORDING_MASTER,
      type: 'slurmdrain',
    });
    const dir = join(world.dir, 'job');
    const result = await submit(world, dir, [
      '-n',
      '8',
      '--account',
      'lofar-test',
      '--sbatch-arg=--comment=lrt-slurm-test',
      '--walltime',
      '0:10:00',
      '--min-remaining',
      '400',
    ]);
    const [jobId] = result.jobIds as [string];
    expect(jobId).toMatch(/^\d+$/);
    const script = await readFile(join(dir, 'pilots.slurm'), 'utf8');
    expect(sbatchDirectives(script)).toMatchObject({
      array: '1-8',
      account: 'lofar-test',
      comment: 'lrt-slurm-test',
    });
    expect(script).toContain(`${join(dir, 'pilot.js')} --url`);
    expect(await readFile(join(dir, 'pilot.js'))).toEqual(await readFile(DIST_PILOT));
    const submission = await readSubmission(dir);
    expect(submission).toMatchObject({
      backend: 'slurm',
      tool: 'sbatch',
      jobIds: [jobId],
      count: 8,
      type: 'slurmdrain',
    });

    const done = await waitForTasks(jobId, 8, ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT']);
    expect(done.map((t) => t.state)).toEqual(Array(8).fill('COMPLETED'));
    expect((await viewIds(world.db, world.type, 'done')).length).toBe(16);
    const ledger = await world.ledgerLines();
    expect(ledger.length).toBe(16);
    // Slurm saw the account we asked for
    const account = await execa('squeue', ['-h', '-t', 'all', '-j', `${jobId}_1`, '-o', '%a'], {
      env: { ...process.env, ...slurm.env },
    });
    expect(account.stdout.trim()).toBe('lofar-test');
    // the token records the task that held it, from Slurm's environment
    const token = await world.token('t_slurmdrain_L1_SB000');
    expect(JSON.stringify(token)).toMatch(new RegExp(`${jobId}_[1-8]`));
    // lrt jobs: status through squeue, the task logs from the job folder, the list
    const env = submitEnv(world);
    const status = await lrt(['jobs', 'status', dir, '--json'], { env });
    expect(status.exitCode, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ source: 'squeue', counts: { done: 8, failed: 0 } });
    const logs = await lrt(['jobs', 'logs', dir, '--json', '--lines', '5'], { env });
    const tails = JSON.parse(logs.stdout).logs as { task: string; text: string }[];
    expect(tails.map((l) => l.task)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8']);
    for (const log of tails) expect(log.text).toContain('pilot finished');
    const one = await lrt(['jobs', 'logs', dir, '--task', '3'], { env });
    expect(one.stdout).toContain(`pilot task 3 of job ${jobId} on `);
    const listed = await lrt(['jobs', 'list', '--root', world.dir, '--json'], { env });
    expect(JSON.parse(listed.stdout).submissions).toMatchObject([{ dir, jobIds: [jobId], backend: 'slurm' }]);
    // control for the --array limit below: without one, both cores ran tasks at once
    expect(Math.max(...ledger.map((l) => Number(/running=(\d+)/.exec(l)![1])))).toBe(2);
  });

  it('--concurrent 1 (--array 1-N%1) never has two tasks running', async () => {
    const world = await createPilotWorld({
      tokens: demoTokens('slurmlimit', 6),
      masterScript: RECORDING_MASTER,
      type: 'slurmlimit',
    });
    const result = await submit(world, join(world.dir, 'job'), [
      '-n',
      '3',
      '--concurrent',
      '1',
      '--max-tokens',
      '2',
    ]);
    const [jobId] = result.jobIds as [string];
    await waitForTasks(jobId, 3, ['COMPLETED', 'FAILED']);
    const ledger = await world.ledgerLines();
    expect(ledger.length).toBe(6);
    expect(new Set(ledger.map((l) => /task=(\d+)/.exec(l)![1])).size).toBe(3);
    expect(ledger.map((l) => Number(/running=(\d+)/.exec(l)![1]))).toEqual(Array(6).fill(1));
  });

  it('the pilot reads the time left from Slurm: less than --min-remaining, it claims nothing', async () => {
    const world = await createPilotWorld({
      tokens: demoTokens('slurmwall', 2),
      masterScript: RECORDING_MASTER,
      type: 'slurmwall',
    });
    const dir = join(world.dir, 'job');
    const result = await submit(world, dir, ['-n', '1', '--walltime', '0:05:00', '--min-remaining', '400']);
    const [jobId] = result.jobIds as [string];
    await waitForTasks(jobId, 1, ['COMPLETED', 'FAILED']);
    expect((await viewIds(world.db, world.type, 'todo')).length).toBe(2);
    expect(await world.ledgerLines()).toEqual([]);
    const log = await readFile(join(dir, 'logs', `pilot-${jobId}_1.log`), 'utf8');
    expect(log).toMatch(/"stoppedBy":"walltime"/);
  });

  it('lrt jobs cancel (scancel) mid-run: SIGTERM reaches the pilot, which gives the token back', async () => {
    const world = await createPilotWorld({
      tokens: demoTokens('slurmcancel', 1),
      masterScript: `#!/bin/bash\necho "$TOKEN started" >> "$DEMO_LEDGER"\nsleep 120 & wait $!\n`,
      type: 'slurmcancel',
    });
    const dir = join(world.dir, 'job');
    const result = await submit(world, dir, ['-n', '1', '--grace', '2']);
    const [jobId] = result.jobIds as [string];
    await waitFor(
      async () => ((await world.ledgerLines()).length > 0 ? true : undefined),
      60_000,
      'the payload',
    );
    expect(await viewIds(world.db, world.type, 'locked')).toEqual(['t_slurmcancel_L1_SB000']);
    const env = submitEnv(world);
    const running = await lrt(['jobs', 'status', dir, '--json'], { env });
    expect(JSON.parse(running.stdout).jobs).toMatchObject([{ id: `${jobId}_1`, state: 'running' }]);
    const cancel = await lrt(['jobs', 'cancel', dir], { env }); // scancel
    expect(cancel.exitCode, cancel.stderr).toBe(0);
    await waitForTasks(jobId, 1, ['CANCELLED']);
    const back = await waitFor(
      async () => {
        const todo = await viewIds(world.db, world.type, 'todo');
        return todo.length === 1 ? todo : undefined;
      },
      30_000,
      'the token back in todo',
    ).catch(async (err: Error) => {
      // What the pilot did after the signal, and what the token holds: the cause, not just the wait.
      const token = await world.token('t_slurmcancel_L1_SB000');
      const log = await readFile(join(dir, 'logs', `pilot-${jobId}_1.log`), 'utf8').catch(
        (e: Error) => e.message,
      );
      throw new Error(
        `${err.message}\ntoken: ${JSON.stringify({ lock: token.lock, status: token.status, lease: token.lease })}\n` +
          `task log:\n${log.slice(-6000)}`,
      );
    });
    expect(back).toEqual(['t_slurmcancel_L1_SB000']);
    const token = await world.token('t_slurmcancel_L1_SB000');
    expect(token.lock).toBe(0);
  });
});
