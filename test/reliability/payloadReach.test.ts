import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCleanLaunch, SECRETS_FD_VARIABLE } from '../../src/pilot/cleanLaunch';
import { DIST_PILOT } from '../helpers/pilotWorld';
import { createSecretsWorld, PASSWORD, type SecretsWorld } from './secretsRun';

/**
 * What a payload (same user as the pilot) can read, searched by the payload itself: a master.sh
 * that greps every readable file of /proc/$PPID (the pilot), its own environment and every file
 * under the job dir for the password. The needle is put together at run time, so master.sh and
 * its sandbox do not hold it. The launcher the pilot relaunched itself from is searched too: it
 * keeps what it was started with (README), which also shows the search can find the password.
 */
const half = PASSWORD.length >> 1;
const SEARCHING_MASTER = `#!/usr/bin/env bash
needle="${PASSWORD.slice(0, half)}""${PASSWORD.slice(half)}"
report="$RECORD_DIR/search-$TOKEN.txt"
: > "$report"
found() { if timeout 10 grep -aqF -- "$needle" "$2" 2>/dev/null; then echo "FOUND $1 $2" >> "$report"; fi; }
pilot=$PPID
echo "pilot-cmdline $(tr '\\0' ' ' < /proc/$pilot/cmdline | sed "s/$needle/<found>/g")" >> "$report"
n=0
for f in /proc/$pilot/*; do
  case "\${f##*/}" in mem|pagemap|clear_refs) continue ;; esac
  if [ -f "$f" ] && [ -r "$f" ]; then found pilot "$f"; n=$((n+1)); fi
done
echo "pilot-files $n" >> "$report"
env | grep -aqF -- "$needle" && echo "FOUND own-env" >> "$report"
n=0
while IFS= read -r -d '' f; do found jobdir "$f"; n=$((n+1)); done < <(find "$JOBDIR" -type f -readable -print0)
echo "jobdir-files $n" >> "$report"
launcher=$(awk '{print $4}' /proc/$pilot/stat)
found launcher /proc/$launcher/environ
found launcher /proc/$launcher/cmdline
echo done >> "$report"
`;

let world: SecretsWorld;

beforeAll(async () => {
  world = await createSecretsWorld(
    { reach: [{ id: 't_env' }, { id: 't_legacy' }, { id: 't_file' }] },
    SEARCHING_MASTER,
  );
}, 60_000);

afterAll(async () => {
  await world?.close();
});

async function searchReport(token: string): Promise<string[]> {
  return (await readFile(join(world.records, `search-${token}.txt`), 'utf8')).trim().split('\n');
}

function pilot(args: string[], env: Record<string, string>) {
  return execa('node', [DIST_PILOT, ...args], { env, extendEnv: false, reject: false, all: true });
}

describe('planCleanLaunch', () => {
  it('moves the password variables and the legacy password into the pipe message', () => {
    const plan = planCleanLaunch(['db', 'alice', 'pw-1', 'type', '--keep-failed'], {
      PATH: '/bin',
      PICAS_USR_PWD: 'pw-2',
      PICAS_URL: 'https://alice:pw-3@couch.example.org/',
    })!;
    expect(plan.argv).toEqual(['db', 'alice', '***', 'type', '--keep-failed']);
    expect(plan.env).toEqual({
      PATH: '/bin',
      PICAS_URL: 'https://couch.example.org/',
      [SECRETS_FD_VARIABLE]: '3',
    });
    expect(plan.secrets).toEqual({
      argv: ['db', 'alice', 'pw-1', 'type', '--keep-failed'],
      env: { PICAS_USR_PWD: 'pw-2', PICAS_URL: 'https://alice:pw-3@couch.example.org/' },
    });
  });

  it('relaunches nothing when neither argv nor env holds a secret', () => {
    expect(
      planCleanLaunch(['--type', 't', '--credentials', 'creds'], { PICAS_URL: 'https://couch.example.org/' }),
    ).toBeUndefined();
  });
});

describe('a payload searching for the password', () => {
  const common = () => ['--workdir', join(world.dir, 'work'), '--view', 'todo'];

  it('finds it neither in the pilot nor in the job dir, given through the environment', async () => {
    const run = await pilot(['--type', 'reach', '--token', 't_env', ...common()], world.env);
    expect(run.exitCode, run.all).toBe(0);
    const report = await searchReport('t_env');
    expect(report.at(-1)).toBe('done');
    expect(report.find((l) => l.startsWith('pilot-cmdline'))).toMatch(/pilot\.js --type reach --token t_env/);
    expect(Number(report.find((l) => l.startsWith('pilot-files'))!.split(' ')[1])).toBeGreaterThan(5);
    expect(Number(report.find((l) => l.startsWith('jobdir-files'))!.split(' ')[1])).toBeGreaterThan(0);
    // the launcher keeps the environment it was started with: the control that the search works
    expect(report.filter((l) => l.startsWith('FOUND'))).toEqual([
      expect.stringMatching(/^FOUND launcher \/proc\/\d+\/environ$/),
    ]);
  });

  it('finds it neither in the pilot nor in the job dir, given as legacy arguments', async () => {
    const { PICAS_URL: _url, ...noUrl } = world.env;
    const run = await pilot(
      [
        'secrets_db',
        'admin',
        PASSWORD,
        'reach',
        '--url',
        world.server.url,
        '--token',
        't_legacy',
        ...common(),
      ],
      noUrl,
    );
    expect(run.exitCode, run.all).toBe(0);
    const report = await searchReport('t_legacy');
    expect(report.at(-1)).toBe('done');
    expect(report.find((l) => l.startsWith('pilot-cmdline'))).toMatch(/secrets_db admin \*\*\* reach/);
    expect(report.filter((l) => l.startsWith('FOUND'))).toEqual([
      expect.stringMatching(/^FOUND launcher \/proc\/\d+\/cmdline$/),
    ]);
  });

  it('finds it nowhere it searches when it comes from a credentials file (no relaunch needed)', async () => {
    const credentials = join(world.dir, 'creds');
    await writeFile(credentials, `user=admin\npassword=${PASSWORD}\n`, { mode: 0o600 });
    const { PICAS_URL: _url, ...noUrl } = world.env;
    const run = await pilot(
      [
        '--url',
        world.server.url,
        '--db',
        'secrets_db',
        '--credentials',
        credentials,
        '--type',
        'reach',
        '--token',
        't_file',
        ...common(),
      ],
      noUrl,
    );
    expect(run.exitCode, run.all).toBe(0);
    const report = await searchReport('t_file');
    expect(report.at(-1)).toBe('done');
    expect(report.filter((l) => l.startsWith('FOUND'))).toEqual([]);
  });

  it('SIGTERM to the launcher reaches the pilot, which stops as a pilot does (143)', async () => {
    // covered with a payload in flight by test/reliability/secrets.test.ts (exit 143, token scrubbed)
    const run = pilot(['--type', 'reach', '--wait', '--poll', '0.2', ...common()], world.env);
    await new Promise((done) => setTimeout(done, 1500));
    run.kill('SIGTERM');
    const result = await run;
    expect(result.exitCode, result.all).toBe(143);
  });
});
