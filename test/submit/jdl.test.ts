import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePilotSettings } from '../../src/pilot/settings';
import {
  CREDENTIALS_FILE,
  credentialsText,
  jdlDescription,
  type PilotLaunch,
  parseClassAd,
  START_SCRIPT,
  startScript,
} from '../../src/submit';

const FIXTURES = resolve(__dirname, '../fixtures/submit');
const scratch = mkdtempSync(join(tmpdir(), 'lrt-jdl-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const SETTINGS = {
  url: 'https://picas.example.org:6984',
  database: 'sksp_dev',
  user: 'lofar',
  password: 's3cr3t-pw',
};
const launch: PilotLaunch = {
  url: SETTINGS.url,
  database: SETTINGS.database,
  type: 'pref_cal1',
  credentialsFile: CREDENTIALS_FILE,
  extraArgs: ['--max-tokens', '3', '--keep-failed'],
};
const sandbox = {
  startScript: '/jobs/x/lrt-pilot.sh',
  pilot: '/jobs/x/pilot.js',
  credentials: '/jobs/x/picas-credentials',
};

describe('ClassAd syntax check', () => {
  it("accepts picasclient's example JDLs and reads their values", () => {
    for (const name of ['grid-example.jdl', 'snakemake.jdl']) {
      const result = parseClassAd(readFileSync(join(FIXTURES, name), 'utf8'));
      expect(result.ok, name).toBe(true);
      if (!result.ok) continue;
      expect(result.attributes.Executable).toBe('/bin/sh');
      expect(result.attributes.Parameters).toBe(1);
      expect(result.attributes.Arguments).toBe('startpilot.sh');
      expect(result.attributes.InputSandbox).toContain('grid-sandbox/startpilot.sh');
    }
  });

  it('reports broken brackets, statements and strings with their line', () => {
    const text = readFileSync(join(FIXTURES, 'grid-example.jdl'), 'utf8');
    const cases: [string, string, number][] = [
      [text.replace('Parameters=1;', 'Parameters=1'), 'expected ";"', 6],
      [text.replace('"parametricjob.out";', '"parametricjob.out;'), 'unterminated string', 8],
      [text.replace('"picasconfig.py"};', '"picasconfig.py";'), 'to close "{"', 10],
      [text.replace(/\]\s*$/, ''), 'never closed', 1],
      [text.replace('Executable =', 'Executable'), 'expected "="', 6],
      [text.replace('StdError', 'StdOutput'), 'defined twice', 9],
      [`${text}]`, 'after the closing', 13],
    ];
    for (const [broken, message, line] of cases) {
      const result = parseClassAd(broken);
      expect(result.ok, message).toBe(false);
      if (result.ok) continue;
      expect(result.problems[0]!.message).toContain(message);
      expect(result.problems[0]!.line).toBe(line);
    }
  });

  it('parses expressions: requirements, function calls, ternaries, nested ads', () => {
    const result = parseClassAd(
      '[ Requirements = (RegExp("gina.sara.nl:8443/cream-pbs-medium", other.GlueCEUniqueID)) && other.GlueCEPolicyMaxWallClockTime >= 720;\n' +
        '  X = true ? -1 : 2; Y = [ a = 1; b = {1, "two"} ]; Z = -3; ]',
    );
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.attributes.Z).toBe(-3);
      expect(result.attributes.Requirements).toEqual({ expr: expect.stringContaining('RegExp(') });
    }
  });
});

describe('parametric JDL', () => {
  it("has GRID_LRT's shape, the pilot in the InputSandbox and no password anywhere", () => {
    const text = jdlDescription({
      count: 25,
      launch,
      inputSandbox: sandbox,
      cpus: 4,
      requirements: 'other.GlueCEPolicyMaxWallClockTime >= 720',
    });
    expect(text).not.toContain(SETTINGS.password);
    const result = parseClassAd(text);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const a = result.attributes;
    expect(a).toMatchObject({
      JobType: 'Parametric',
      ParameterStart: 0,
      ParameterStep: 1,
      Parameters: 25,
      Executable: '/bin/sh',
      CPUNumber: 4,
      SmpGranularity: 4,
      WholeNodes: false,
      InputSandbox: [sandbox.startScript, sandbox.pilot, sandbox.credentials],
    });
    const args = String(a.Arguments).split(' ');
    expect(args[0]).toBe(START_SCRIPT);
    expect(args).toContain('--credentials');
    expect(args[args.indexOf('--credentials') + 1]).toBe(CREDENTIALS_FILE);
  });

  it('gives Arguments the pilot accepts, and a start script that runs pilot.js as the grid would', async () => {
    const text = jdlDescription({ count: 1, launch, inputSandbox: sandbox });
    const parsed = parseClassAd(text);
    if (!parsed.ok) throw new Error('JDL does not parse');
    const [script, ...argv] = String(parsed.attributes.Arguments).split(' ');
    expect(script).toBe(START_SCRIPT);

    // The worker's job dir: the InputSandbox files, as the grid copies them (the site's umask).
    const job = mkdtempSync(join(scratch, 'wn-'));
    writeFileSync(join(job, CREDENTIALS_FILE), credentialsText(SETTINGS));
    chmodSync(join(job, CREDENTIALS_FILE), 0o644);
    writeFileSync(join(job, START_SCRIPT), startScript(launch, process.execPath));
    writeFileSync(
      join(job, 'pilot.js'),
      'const fs = require("fs");\n' +
        'const mode = fs.statSync("picas-credentials").mode & 0o777;\n' +
        'console.log(JSON.stringify({ argv: process.argv.slice(2), mode }));\n',
    );
    await execa('sh', ['-n', START_SCRIPT], { cwd: job });
    const run = await execa('/bin/sh', [script!, ...argv], { cwd: job, env: { PATH: process.env.PATH } });
    const seen = JSON.parse(run.stdout);
    expect(seen.argv).toEqual(argv);
    expect(seen.mode).toBe(0o600);

    // What the pilot makes of those arguments with that credentials file.
    // On the worker the pilot's cwd is the job dir: read the relative credentials path there.
    const settings = parsePilotSettings({
      argv,
      env: {},
      home: '/nonexistent',
      cwd: job,
      now: 0,
      readCredentialsFile: (path) => ({
        text: readFileSync(join(job, path), 'utf8'),
        mode: statSync(join(job, path)).mode,
      }),
    });
    if ('help' in settings || 'version' in settings) throw new Error('help or version');
    expect(settings.picas).toEqual(SETTINGS);
    expect(settings.type).toBe('pref_cal1');
    expect(settings.maxTokens).toBe(3);
    expect(settings.keepFailed).toBe(true);
    expect(statSync(join(job, CREDENTIALS_FILE)).mode & 0o777).toBe(0o600);
  });

  it('refuses what a JDL cannot carry', () => {
    expect(() => jdlDescription({ count: 0, launch, inputSandbox: sandbox })).toThrow(/>= 1/);
    expect(() =>
      jdlDescription({ count: 1, launch: { ...launch, url: 'https://u:pw@h:6984' }, inputSandbox: sandbox }),
    ).toThrow(/must not carry credentials/);
    expect(() =>
      jdlDescription({
        count: 1,
        launch: { ...launch, extraArgs: ['--view', 'my view'] },
        inputSandbox: sandbox,
      }),
    ).toThrow(/Arguments/);
  });

  it('says clearly when node is missing on the worker', async () => {
    const job = mkdtempSync(join(scratch, 'wn-'));
    writeFileSync(join(job, START_SCRIPT), startScript(launch, '/nonexistent/node'));
    const run = await execa('/bin/sh', [START_SCRIPT], {
      cwd: job,
      reject: false,
      env: { PATH: '/usr/bin:/bin' },
    });
    expect(run.exitCode).toBe(127);
    expect(run.stderr).toMatch(/no node >= 18 \(\/nonexistent\/node\) on .*--with-runtime/);
  });
});
