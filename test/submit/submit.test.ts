import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSandbox, specFromDir } from '../../src/sandbox/build';
import { parseClassAd, sbatchDirectives } from '../../src/submit';
import { DIST_LRT, lrt } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import { getDoc, putDesignDoc, seedTokens, viewIds } from '../helpers/seedTokens';

const T = 'sub';
const DIST_PILOT = resolve(__dirname, '../../dist/pilot.js');
const scratch = mkdtempSync(join(tmpdir(), 'lrt-submit-test-'));
let t: TestDatabase;
let env: Record<string, string>;

/*
 * Slurm and the grid submission tools are not installed on this machine (checked with
 * `command -v`). These stand-ins take their place on PATH: real executables that check the file
 * they are given as the real tool's first step would (bash -n / the ClassAd brackets) and answer
 * in the real tool's output format, so the invocation and the reading of job ids are exercised.
 */
const STANDINS = join(scratch, 'bin');
function standIn(name: string, body: string) {
  writeFileSync(
    join(STANDINS, name),
    `#!/bin/bash\nset -e\nprintf '%s\\n' "$@" > "$PWD/${name}.args"\n${body}\n`,
    {
      mode: 0o755,
    },
  );
}

beforeAll(async () => {
  t = await createTestDatabase('lrt_submit');
  env = {
    PICAS_URL: t.baseUrl,
    PICAS_DB: t.name,
    PICAS_USR: t.user,
    PICAS_USR_PWD: t.password,
    PATH: process.env.PATH!,
  };
  await putDesignDoc(t, T);
  await seedTokens(t, T, 3);
  await putDesignDoc(t, 'empty');
  mkdirSync(STANDINS);
  standIn(
    'sbatch',
    '[ "$1" = --parsable ]\nbash -n "$2"\ngrep -q "^#SBATCH --array=" "$2"\necho "4242;cluster1"',
  );
  standIn(
    'glite-wms-job-submit',
    '[ "$1" = -a ]\ngrep -q "^\\[" "$2"\necho "Connecting to the service https://wms.example.org:7443/glite_wms_wmproxy_server"\n' +
      'echo "Your job identifier is:"\necho\necho "https://wms.example.org:9000/AbCdEf123"',
  );
});
afterAll(async () => {
  await t.drop();
  rmSync(scratch, { recursive: true, force: true });
});

function jobDir(name: string): string {
  return join(scratch, 'jobs', name);
}

describe('lrt submit', () => {
  it('--dry-run prints the JDL on stdout, with no password, and writes nothing', async () => {
    const out = jobDir('dry');
    const res = await lrt(['submit', '--backend', 'jdl', '-n', '7', '--type', T, '--out', out, '--dry-run'], {
      env,
    });
    expect(res.exitCode).toBe(0);
    expect(res.stdout).not.toContain(t.password);
    const parsed = parseClassAd(res.stdout);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) {
      expect(parsed.attributes.Parameters).toBe(7);
      expect(parsed.attributes.InputSandbox).toContain(join(out, 'pilot.js'));
    }
    expect(existsSync(out)).toBe(false);
    // The test database is on 127.0.0.1: the real submission would be refused, and the dry run says so.
    expect(res.stderr).toContain(
      `warning: PICAS_URL ${t.baseUrl}/ cannot be reached from grid worker nodes: 127.0.0.1 is a loopback address; the submission is refused without --force`,
    );
  });

  it("checks the pilot's options by the pilot's own rules before anything is written", async () => {
    const out = jobDir('badlease');
    const res = await lrt(
      ['submit', '--backend', 'slurm', '-n', '2', '--type', T, '--out', out, '--lease', '2'],
      {
        env,
      },
    );
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain('--lease must be a number of seconds >= 3, got "2"');
    expect(existsSync(out)).toBe(false);
  });

  it('a missing --pilot or an --out that is a file: refused before anything is written (no credentials file left)', async () => {
    const out = jobDir('nopilot');
    const missing = join(scratch, 'no-such-pilot.js');
    const res = await lrt(
      ['submit', '--backend', 'slurm', '--type', T, '--out', out, '--pilot', missing, '--no-submit'],
      { env },
    );
    expect(res.exitCode).toBe(5);
    expect(res.stderr).toContain(`the pilot bundle ${missing} does not exist`);
    expect(existsSync(out)).toBe(false);

    const file = join(scratch, 'a-file');
    writeFileSync(file, 'x\n');
    for (const backend of ['slurm', 'local']) {
      const bad = await lrt(['submit', '--backend', backend, '--type', T, '--out', join(file, 'job')], {
        env,
      });
      expect(bad.exitCode).toBe(1);
      expect(bad.stderr).toContain(
        `lrt: cannot write the job folder ${join(file, 'job')}: ${file} is a file, not a folder`,
      );
    }
  });

  it('--mem that Slurm cannot read is a usage error before anything is written', async () => {
    const out = jobDir('badmem');
    const res = await lrt(
      ['submit', '--backend', 'slurm', '--type', T, '--out', out, '--mem', '8GiB', '--dry-run'],
      {
        env,
      },
    );
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toBe('lrt: --mem must be a size as Slurm reads it (e.g. 8G, 500M), got "8GiB"\n');
    const ok = await lrt(
      ['submit', '--backend', 'slurm', '--type', T, '--out', out, '--mem', '8GB', '--dry-run'],
      {
        env,
      },
    );
    expect(sbatchDirectives(ok.stdout).mem).toBe('8GB');
  });

  it('submits nothing when the view has no work', async () => {
    const out = jobDir('nowork');
    const res = await lrt(['submit', '--backend', 'slurm', '-n', '2', '--type', 'empty', '--out', out], {
      env,
    });
    expect(res.exitCode).toBe(0);
    expect(res.stderr).toContain('nothing submitted');
    expect(existsSync(out)).toBe(false);
  });

  it('writes a Slurm job with a private credentials file and submits it with sbatch', async () => {
    const out = jobDir('slurm');
    const pilot = join(scratch, 'pilot.js');
    writeFileSync(pilot, '// stand-in\n');
    const args = ['submit', '--backend', 'slurm', '-n', '3', '--concurrent', '2', '--type', T, '--out', out];
    const res = await lrt([...args, '--pilot', pilot, '--walltime', '2:00:00', '--partition', 'short'], {
      env: { ...env, PATH: `${STANDINS}:${env.PATH}` },
    });
    expect(res.stderr).toContain('submitted 3 pilots with sbatch');
    expect(res.exitCode).toBe(0);
    expect(res.stdout.trim()).toBe('4242');
    const script = readFileSync(join(out, 'pilots.slurm'), 'utf8');
    expect(script).not.toContain(t.password);
    expect(sbatchDirectives(script)).toMatchObject({ array: '1-3%2', time: '02:00:00', partition: 'short' });
    const credentials = join(out, 'picas-credentials');
    expect(statSync(credentials).mode & 0o777).toBe(0o600);
    expect(readFileSync(credentials, 'utf8')).toContain(`password=${t.password}`);
    expect(readFileSync(join(out, 'sbatch.args'), 'utf8')).toBe(`--parsable\n${join(out, 'pilots.slurm')}\n`);
  });

  it('lrt jobs on a job folder written with --no-submit says it was not submitted', async () => {
    const out = jobDir('nosubmit');
    const res = await lrt(
      ['submit', '--backend', 'slurm', '-n', '2', '--type', T, '--out', out, '--no-submit'],
      {
        env,
      },
    );
    expect(res.exitCode, res.stderr).toBe(0);
    const status = await lrt(['jobs', 'status', out]);
    expect(status.exitCode).toBe(5);
    expect(status.stderr).toBe(
      `lrt: ${join(out, 'submission.json')}: no such file: lrt submit wrote pilots.slurm here but did not submit it (--no-submit, or no submission tool), so there are no job ids to follow\n`,
    );
  });

  it('says where the job is when no submission tool is installed', async () => {
    const out = jobDir('notool');
    const pilot = join(scratch, 'pilot.js');
    const res = await lrt(
      ['submit', '--backend', 'jdl', '--type', T, '--out', out, '--pilot', pilot, '--force'],
      {
        env: { ...env, PATH: '/usr/bin:/bin' },
      },
    );
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toContain('glite-wms-job-submit not found');
    expect(res.stderr).toContain(join(out, 'pilots.jdl'));
    // The job folder is complete, ready to submit by hand.
    expect(readdirSync(out).sort()).toEqual(['lrt-pilot.sh', 'picas-credentials', 'pilot.js', 'pilots.jdl']);
    expect(statSync(join(out, 'picas-credentials')).mode & 0o777).toBe(0o600);
  });

  it('refuses a grid submission whose PICAS_URL workers cannot reach, and changes nothing', async () => {
    const out = jobDir('loopback');
    const res = await lrt(
      ['submit', '--backend', 'jdl', '--type', T, '--out', out, '--pilot', join(scratch, 'pilot.js')],
      {
        env: { ...env, PATH: `${STANDINS}:/usr/bin:/bin` },
      },
    );
    expect(res.exitCode).not.toBe(0);
    expect(res.stderr).toMatch(
      /cannot be reached from grid worker nodes: 127\.0\.0\.1 is a loopback address.*--force/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('submits the JDL with glite-wms-job-submit and prints the job id', async () => {
    const out = jobDir('jdl');
    const res = await lrt(
      [
        'submit',
        '--backend',
        'jdl',
        '-n',
        '2',
        '--type',
        T,
        '--out',
        out,
        '--pilot',
        join(scratch, 'pilot.js'),
        '--json',
        '--force', // the test database is on 127.0.0.1
      ],
      {
        env: { ...env, PATH: `${STANDINS}:/usr/bin:/bin` },
      },
    );
    expect(res.exitCode).toBe(0);
    const result = JSON.parse(res.stdout);
    expect(result).toMatchObject({
      submitted: true,
      tool: 'glite-wms-job-submit',
      jobIds: ['https://wms.example.org:9000/AbCdEf123'],
      work: 3,
    });
    expect(readFileSync(join(out, 'pilots.jdl'), 'utf8')).not.toContain(t.password);
    expect(res.stderr).toContain('grid workers without node >= 18 end the job with exit 127: --with-runtime');
    const submission = JSON.parse(readFileSync(join(out, 'submission.json'), 'utf8'));
    expect(submission).toMatchObject({
      backend: 'jdl',
      tool: 'glite-wms-job-submit',
      flavour: 'glite',
      jobIds: ['https://wms.example.org:9000/AbCdEf123'],
      count: 2,
      type: T,
      files: { job: 'pilots.jdl', pilot: 'pilot.js', startScript: 'lrt-pilot.sh' },
    });
    expect(JSON.stringify(submission)).not.toContain(t.password);
  });

  it('--flavour dirac writes DIRAC attributes; --flavour with a tool of the other dialect is refused', async () => {
    const res = await lrt(
      ['submit', '--backend', 'jdl', '--flavour', 'dirac', '--cpus', '8', '--type', T, '--dry-run'],
      { env },
    );
    expect(res.exitCode, res.stderr).toBe(0);
    const parsed = parseClassAd(res.stdout);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    expect(parsed.attributes).toMatchObject({ NumberOfProcessors: 8, JobName: `lrt-${T}` });
    expect(parsed.attributes.CPUNumber).toBeUndefined();
    const mixed = await lrt(
      [
        'submit',
        '--backend',
        'jdl',
        '--flavour',
        'dirac',
        '--submitter',
        'glite-wms-job-submit',
        '--type',
        T,
        '--dry-run',
      ],
      { env },
    );
    expect(mixed.exitCode).toBe(2);
    expect(mixed.stderr).toMatch(/--flavour dirac JDL cannot be submitted with glite-wms-job-submit/);
  });

  it('runs N local pilots with their logs in one folder and the password only in the credentials file', async () => {
    const out = jobDir('local');
    const pilot = join(scratch, 'echo-pilot.js');
    writeFileSync(
      pilot,
      'const fs = require("fs");\nconst argv = process.argv.slice(2);\n' +
        'const cred = argv[argv.indexOf("--credentials") + 1];\n' +
        'console.log(JSON.stringify({ argv, envPassword: process.env.PICAS_USR_PWD ?? null, credMode: fs.statSync(cred).mode & 0o777 }));\n' +
        'process.exit(argv.includes("--max-tokens") ? 0 : 3);\n',
    );
    const res = await lrt(
      [
        'submit',
        '--backend',
        'local',
        '-n',
        '3',
        '--type',
        T,
        '--out',
        out,
        '--pilot',
        pilot,
        '--max-tokens',
        '1',
      ],
      { env },
    );
    expect(res.exitCode).toBe(0);
    const logs = readdirSync(out)
      .filter((f) => f.endsWith('.log'))
      .sort();
    expect(logs).toEqual(['pilot-1.log', 'pilot-2.log', 'pilot-3.log']);
    for (const log of logs) {
      const seen = JSON.parse(readFileSync(join(out, log), 'utf8'));
      expect(seen.envPassword).toBeNull();
      expect(seen.credMode).toBe(0o600);
      expect(seen.argv).toEqual(expect.arrayContaining(['--type', T, '--db', t.name, '--max-tokens', '1']));
      expect(seen.argv.join(' ')).not.toContain(t.password);
    }
    const failing = await lrt(
      [
        'submit',
        '--backend',
        'local',
        '-n',
        '2',
        '--type',
        T,
        '--out',
        jobDir('local-fail'),
        '--pilot',
        pilot,
      ],
      { env },
    );
    expect(failing.exitCode).toBe(1);
    expect(failing.stdout).toContain('pilot 1: exit 3');
  });

  it.skipIf(!existsSync(DIST_PILOT))('drains the tokens with real local pilots (dist/pilot.js)', async () => {
    const type = 'subreal';
    const folder = join(scratch, 'real-sbx');
    mkdirSync(folder);
    writeFileSync(join(folder, 'master.sh'), '#!/bin/bash\necho "processed $TOKEN"\n', { mode: 0o755 });
    const sandbox = await buildSandbox(specFromDir(folder), {
      outDir: join(scratch, 'sbx-out'),
      pilotPath: false,
    });
    await putDesignDoc(t, type);
    const ids = await seedTokens(t, type, 4, { SBXloc: `file://${sandbox.file}` });
    const out = jobDir('real');
    const res = await lrt(['submit', '--backend', 'local', '-n', '2', '--type', type, '--out', out], { env });
    expect(res.exitCode, `${res.stdout}\n${res.stderr}`).toBe(0);
    expect((await viewIds(t, type, 'done')).sort()).toEqual([...ids].sort());
    const doc = await getDoc(t, ids[0]!);
    expect(doc.status).toBe('done');
  });
});

/**
 * `lrt submit --backend local -n 2` (dist/lrt.js) of stand-in pilots that run until told to stop,
 * as a pilot polling with --wait does; resolves once both pilots run (and `also` holds).
 */
async function submitWaitingPilots(name: string, also: (out: string) => boolean = () => true) {
  const out = jobDir(name);
  const pilot = join(scratch, `${name}-pilot.js`);
  writeFileSync(
    pilot,
    'console.log("ready");\nprocess.on("SIGTERM", () => process.exit(143));\nsetInterval(() => {}, 1000);\n',
  );
  const args = ['submit', '--backend', 'local', '-n', '2', '--type', T, '--out', out, '--pilot', pilot];
  const submit = execa('node', [DIST_LRT, ...args], {
    env: { HOME: '/nonexistent-home', ...env },
    extendEnv: false,
    reject: false,
  });
  const ready = () =>
    [1, 2].every((i) => readFileSafe(join(out, `pilot-${i}.log`)).includes('ready')) && also(out);
  for (let i = 0; i < 500 && !ready(); i++) await new Promise((r) => setTimeout(r, 20));
  return { out, submit, ready: ready() };
}

describe('Ctrl-C during lrt submit --backend local (dist/lrt.js, a real SIGINT)', () => {
  it('stops the pilots, says so, writes submission.json and exits 130', async () => {
    const { out, submit, ready } = await submitWaitingPilots('local-ctrlc');
    expect(ready).toBe(true);
    submit.kill('SIGINT');
    const res = await submit;
    expect(res.signal, res.stderr).toBeUndefined();
    expect(res.exitCode, res.stderr).toBe(130);
    expect(res.stdout).toMatch(/^pilot 1: exit 143 /m);
    expect(res.stdout).toMatch(/^pilot 2: exit 143 /m);
    expect(res.stderr).toContain(`interrupted: 2 pilots stopped by Ctrl-C`);
    const submission = JSON.parse(readFileSync(join(out, 'submission.json'), 'utf8'));
    expect(submission).toMatchObject({ backend: 'local', count: 2, type: T });
  });
});

describe('lrt jobs status|cancel while lrt submit --backend local waits for its pilots', () => {
  it('submission.json is there once the pilots run: another terminal sees them running and cancels them', async () => {
    const { out, submit, ready } = await submitWaitingPilots('local-live', (dir) =>
      existsSync(join(dir, 'submission.json')),
    );
    try {
      expect(ready, 'submission.json written while the pilots run').toBe(true);
      const status = await lrt(['jobs', 'status', out, '--json']);
      expect(status.exitCode, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout).jobs.map((j: { state: string }) => j.state)).toEqual([
        'running',
        'running',
      ]);
      const cancel = await lrt(['jobs', 'cancel', out]);
      expect(cancel.exitCode, cancel.stderr).toBe(0);
      expect(cancel.stdout).toContain('SIGTERM sent to 2 local pilots');

      const res = await submit;
      expect(res.stdout).toMatch(/^pilot 1: exit 143 /m);
      expect(res.stdout).toMatch(/^pilot 2: exit 143 /m);
    } finally {
      // Should the test fail early: Ctrl-C, so lrt stops its pilots rather than leaving them behind.
      submit.kill('SIGINT');
      await submit;
    }
  });
});

function readFileSafe(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

describe('lrt jobs status|cancel of a local submission (pids are reused)', () => {
  it('signals only processes that are still pilots of the submission, and says what it did', async () => {
    const out = jobDir('local-cancel');
    const pilot = join(scratch, 'quick-pilot.js');
    writeFileSync(pilot, 'process.exit(0);\n');
    const ran = await lrt(
      ['submit', '--backend', 'local', '-n', '1', '--type', T, '--out', out, '--pilot', pilot],
      {
        env,
      },
    );
    expect(ran.exitCode, ran.stderr).toBe(0);
    // The pilot has ended; the system gives its pid to an unrelated process of the same user.
    const unrelated = execa('sleep', ['30'], { reject: false });
    // And a pilot of this submission still running (its command line holds the job's work folder).
    const stillRunning = execa(
      'node',
      ['-e', 'setInterval(() => {}, 1000)', '--', '--workdir', join(out, 'work')],
      {
        reject: false,
      },
    );
    const file = join(out, 'submission.json');
    const submission = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(
      file,
      JSON.stringify({ ...submission, jobIds: [String(unrelated.pid), String(stillRunning.pid)] }),
    );
    try {
      const status = await lrt(['jobs', 'status', out, '--json']);
      expect(JSON.parse(status.stdout).jobs.map((j: { state: string }) => j.state)).toEqual([
        'done',
        'running',
      ]);

      const cancel = await lrt(['jobs', 'cancel', out, '--json']);
      expect(cancel.exitCode, cancel.stderr).toBe(0);
      expect(JSON.parse(cancel.stdout)).toMatchObject({
        cancelled: [String(stillRunning.pid)],
        output: 'SIGTERM sent to 1 local pilot (1 had ended)',
      });
      expect((await stillRunning).signal).toBe('SIGTERM');
      expect(unrelated.exitCode).toBeNull();

      const again = await lrt(['jobs', 'cancel', out]);
      expect(again.stdout).toBe(
        'no local pilot of this submission is running (2 ended): nothing to cancel\n',
      );
      expect(unrelated.exitCode).toBeNull();
    } finally {
      unrelated.kill();
      stillRunning.kill();
    }
  });
});
