import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSlurmTimeLeft, slurmTaskId } from '../../src/pilot/batchWalltime';
import { parsePilotSettings } from '../../src/pilot/settings';
import {
  credentialsText,
  type PilotLaunch,
  parseJobIds,
  parseWalltime,
  sbatchDirectives,
  shellQuote,
  slurmScript,
  slurmTime,
  unreachableFromWorkers,
  writeCredentialsFile,
} from '../../src/submit';

const scratch = mkdtempSync(join(tmpdir(), 'lrt-slurm-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const SETTINGS = {
  url: 'http://127.0.0.1:5984',
  database: 'lofar_db',
  user: 'pilot',
  password: "it's-a-secret",
};

function launch(credentialsFile: string): PilotLaunch {
  return {
    url: SETTINGS.url,
    database: SETTINGS.database,
    type: 'pref_targ1',
    credentialsFile,
    extraArgs: ['--lease', '900'],
  };
}

describe('Slurm array script', () => {
  it('has the array, cpus, partition and time as #SBATCH lines, and passes bash -n', async () => {
    const text = slurmScript({
      count: 100,
      concurrent: 20,
      cpus: 8,
      partition: 'normal',
      walltime: 12 * 3600,
      mem: '16G',
      logDir: '/home/u/jobs/logs',
      pilotPath: '/home/u/jobs/pilot.js',
      launch: launch('/home/u/jobs/picas-credentials'),
    });
    expect(text).not.toContain(SETTINGS.password);
    expect(sbatchDirectives(text)).toEqual({
      'job-name': 'lrt-pref_targ1',
      array: '1-100%20',
      ntasks: '1',
      'cpus-per-task': '8',
      partition: 'normal',
      time: '12:00:00',
      mem: '16G',
      output: '/home/u/jobs/logs/pilot-%A_%a.log',
    });
    const file = join(scratch, 'check.slurm');
    writeFileSync(file, text);
    const check = await execa('bash', ['-n', file], { reject: false });
    expect(check.exitCode).toBe(0);
  });

  it('runs the pilot as a node would; the time limit is left for the pilot to ask Slurm', async () => {
    const dir = mkdtempSync(join(scratch, 'job-'));
    const credentials = join(dir, 'picas-credentials');
    await writeCredentialsFile(credentials, SETTINGS);
    const pilot = join(dir, 'pilot with space.js');
    writeFileSync(pilot, 'console.log(JSON.stringify(process.argv.slice(2)));\n');
    const text = slurmScript({
      count: 3,
      walltime: 3600,
      logDir: join(dir, 'logs'),
      pilotPath: pilot,
      node: process.execPath,
      launch: launch(credentials),
    });
    const file = join(dir, 'pilots.slurm');
    writeFileSync(file, text);
    // What slurmstepd does on the node, minus Slurm: run the script with the task's environment.
    const run = await execa('bash', [file], {
      env: { PATH: process.env.PATH, SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_JOB_ID: '777' },
      extendEnv: false,
    });
    const [banner, json] = run.stdout.split('\n');
    expect(banner).toMatch(/^pilot task 2 of job 777 on /);
    const argv = JSON.parse(json!) as string[];
    expect(argv).not.toContain('--walltime');

    const settings = parsePilotSettings({ argv, env: {}, home: '/nonexistent', cwd: dir, now: 1_000_000 });
    if ('help' in settings || 'version' in settings) throw new Error('help or version');
    expect(settings.picas).toEqual(SETTINGS);
    expect(settings.walltimeEnd).toBeUndefined();
    expect(settings.leaseSeconds).toBe(900);
  });

  it('writes --account and --sbatch-arg options as #SBATCH lines, and refuses what lrt sets itself', () => {
    const base = { count: 2, logDir: '/l', pilotPath: '/p.js', launch: launch('/c') };
    const text = slurmScript({ ...base, account: 'lofar', sbatchArgs: ['--qos=short', '--exclusive'] });
    expect(sbatchDirectives(text)).toMatchObject({ account: 'lofar', qos: 'short', exclusive: '' });
    expect(() => slurmScript({ ...base, sbatchArgs: ['--array=1-9'] })).toThrow(/sets --array itself/);
    expect(() => slurmScript({ ...base, sbatchArgs: ['-q short'] })).toThrow(/--name=value or --flag/);
    expect(() => slurmScript({ ...base, sbatchArgs: ['--comment=two words'] })).toThrow(/#SBATCH/);
  });

  it("reads squeue's time left (%L)", () => {
    expect(parseSlurmTimeLeft('4:59')).toBe(299);
    expect(parseSlurmTimeLeft('1:00:00')).toBe(3600);
    expect(parseSlurmTimeLeft('2-03:04:05')).toBe(2 * 86400 + 3 * 3600 + 4 * 60 + 5);
    expect(parseSlurmTimeLeft('UNLIMITED')).toBeUndefined();
    expect(parseSlurmTimeLeft('NOT_SET')).toBeUndefined();
    expect(slurmTaskId({ SLURM_JOB_ID: '12', SLURM_ARRAY_JOB_ID: '10', SLURM_ARRAY_TASK_ID: '3' })).toBe(
      '10_3',
    );
    expect(slurmTaskId({ SLURM_JOB_ID: '12' })).toBe('12');
    expect(slurmTaskId({})).toBeUndefined();
  });

  it('refuses values that cannot go into #SBATCH lines', () => {
    const base = { count: 1, logDir: '/l', pilotPath: '/p.js', launch: launch('/c') };
    expect(() => slurmScript({ ...base, partition: 'two words' })).toThrow(/#SBATCH/);
    expect(() => slurmScript({ ...base, count: 0 })).toThrow(/>= 1/);
  });

  it('converts walltimes and quotes words for the shell', () => {
    expect(parseWalltime('90')).toBe(90);
    expect(parseWalltime('2:30')).toBe(150);
    expect(parseWalltime('12:00:00')).toBe(43200);
    expect(parseWalltime('1-02')).toBe(93600);
    expect(parseWalltime('1-00:00:30')).toBe(86430);
    expect(() => parseWalltime('12h')).toThrow(/walltime/);
    expect(slurmTime(93600 + 61)).toBe('1-02:01:01');
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('/plain/path.js')).toBe('/plain/path.js');
  });

  it('reads job ids as the submission tools print them', () => {
    expect(parseJobIds('sbatch', '123456\n')).toEqual(['123456']);
    expect(parseJobIds('sbatch', '123456;cluster2\n')).toEqual(['123456']);
    expect(
      parseJobIds(
        'glite-wms-job-submit',
        'Connecting to the service https://wms2.grid.sara.nl:7443/glite_wms_wmproxy_server\n\n' +
          '====================== glite-wms-job-submit Success ======================\n\n' +
          'The job has been successfully submitted to the WMProxy\nYour job identifier is:\n\n' +
          'https://wms2.grid.sara.nl:9000/lPqTGIGiSyxbFzAi3QfYjQ\n',
      ),
    ).toEqual(['https://wms2.grid.sara.nl:9000/lPqTGIGiSyxbFzAi3QfYjQ']);
    expect(parseJobIds('dirac-wms-job-submit', 'JobID = [4501, 4502, 4503]\n')).toEqual([
      '4501',
      '4502',
      '4503',
    ]);
    expect(parseJobIds('dirac-wms-job-submit', 'JobID = 4501\n')).toEqual(['4501']);
  });

  it('writes credentials the pilot can read, with lines it parses back', () => {
    const text = credentialsText(SETTINGS);
    expect(text).toContain(`password=${SETTINGS.password}`);
    expect(() => credentialsText({ ...SETTINGS, password: 'a\nb' })).toThrow(/line break/);
  });
});

describe('PiCaS URLs workers cannot reach', () => {
  it('names loopback, link-local and single-label hosts, and lets public names through', () => {
    expect(unreachableFromWorkers('http://127.0.0.1:5984')).toMatch(/loopback/);
    expect(unreachableFromWorkers('http://localhost:5984')).toMatch(/node itself/);
    expect(unreachableFromWorkers('http://[::1]:5984')).toMatch(/node itself/);
    expect(unreachableFromWorkers('http://169.254.1.2/')).toMatch(/link-local/);
    expect(unreachableFromWorkers('http://couchdb:5984/')).toMatch(/single-label/);
    expect(unreachableFromWorkers('https://picas-lofar.grid.surfsara.nl:6984')).toBeUndefined();
    expect(unreachableFromWorkers('http://145.100.1.2:5984')).toBeUndefined();
  });
});
