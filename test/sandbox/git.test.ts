import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitSandbox, prepareSandbox } from '../../src/sandbox';
import { failure } from '../helpers/errors';

const FIXTURE = join(__dirname, '../fixtures/sandbox-fetch/cal_pref3.json');

let root: string;
/** Local stand-ins for GRID_Sandbox.git and prefactor.git (real git, file:// URLs). */
const repos = { sandbox: '', prefactor: '' };
const commits: Record<string, string> = {};
const GIT_ENV = {
  GIT_AUTHOR_NAME: 'LOFAR pilot',
  GIT_AUTHOR_EMAIL: 'pilot@example.org',
  GIT_COMMITTER_NAME: 'LOFAR pilot',
  GIT_COMMITTER_EMAIL: 'pilot@example.org',
};

async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await execa('git', args, { cwd, env: GIT_ENV })).stdout.trim();
}

async function commitFiles(repo: string, files: Record<string, string>, message: string): Promise<string> {
  for (const [name, body] of Object.entries(files)) {
    await mkdir(join(repo, name, '..'), { recursive: true });
    await writeFile(join(repo, name), body, { mode: name.endsWith('.sh') ? 0o755 : 0o644 });
  }
  await git(repo, 'add', '-A');
  await git(repo, 'commit', '--quiet', '-m', message);
  return git(repo, 'rev-parse', 'HEAD');
}

const fixture = JSON.parse(await readFile(FIXTURE, 'utf8')) as {
  sandbox: {
    git: { branch: string; url: string };
    scripts: Record<string, { branch: string; checkout_dir: string; url: string }>[];
  };
};
const sandboxBranch = fixture.sandbox.git.branch;
const [scriptName, script] = Object.entries(fixture.sandbox.scripts[0]!)[0]!;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lrt-git-'));
  repos.sandbox = join(root, 'GRID_Sandbox');
  repos.prefactor = join(root, 'prefactor');
  await mkdir(repos.sandbox);
  await git(repos.sandbox, 'init', '--quiet', '-b', 'master');
  commits.first = await commitFiles(repos.sandbox, { 'master.sh': 'echo v1\n' }, 'v1');
  commits.second = await commitFiles(repos.sandbox, { 'master.sh': 'echo v2\n' }, 'v2');
  await git(repos.sandbox, 'checkout', '--quiet', '-b', sandboxBranch, commits.first);
  commits.branch = await commitFiles(repos.sandbox, { 'master.sh': `echo ${sandboxBranch}\n` }, 'branch');
  await git(repos.sandbox, 'checkout', '--quiet', 'master');

  await mkdir(repos.prefactor);
  await git(repos.prefactor, 'init', '--quiet', '-b', script.branch);
  commits.prefactor = await commitFiles(
    repos.prefactor,
    { 'Pre-Facet-Calibrator.parset': 'steps=[]\n' },
    'p',
  );
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const url = (repo: string) => pathToFileURL(repo).toString();

async function caseDir() {
  const dir = await mkdtemp(join(root, 'case-'));
  return { dir, cacheDir: join(dir, 'cache'), jobDir: join(dir, 'job') };
}

describe('git sandboxes (config.json.sandbox)', () => {
  it('the cal_pref3.json form: sandbox branch plus a script repo in its checkout_dir, cached', async () => {
    const { dir, cacheDir, jobDir } = await caseDir();
    // The fixture's GitHub URLs, pointed at the local repositories of the same names.
    const local = (u: string) =>
      u.endsWith('/GRID_Sandbox.git') ? url(repos.sandbox) : url(repos.prefactor);
    const source: GitSandbox = {
      kind: 'git',
      url: local(fixture.sandbox.git.url),
      branch: sandboxBranch,
      scripts: [
        { name: scriptName, url: local(script.url), branch: script.branch, checkoutDir: script.checkout_dir },
      ],
    };
    const result = await prepareSandbox({ source, cacheDir, jobDir });
    expect(result.fromCache).toBe(false);
    expect(result.commit).toBe(commits.branch);
    expect(await readFile(join(jobDir, 'master.sh'), 'utf8')).toBe(`echo ${sandboxBranch}\n`);
    expect(await readFile(join(jobDir, script.checkout_dir, 'Pre-Facet-Calibrator.parset'), 'utf8')).toBe(
      'steps=[]\n',
    );

    const again = await prepareSandbox({ source, cacheDir, jobDir: join(dir, 'job2') });
    expect(again.fromCache).toBe(true);
    expect(await readFile(join(dir, 'job2', 'master.sh'), 'utf8')).toBe(`echo ${sandboxBranch}\n`);
  });

  it('a commit (full or abbreviated like "5539fd6"): full clone and checkout', async () => {
    for (const commit of [commits.first!, commits.first!.slice(0, 7)]) {
      const { cacheDir, jobDir } = await caseDir();
      const source: GitSandbox = { kind: 'git', url: url(repos.sandbox), commit, scripts: [] };
      const result = await prepareSandbox({ source, cacheDir, jobDir });
      expect(result.commit).toBe(commits.first);
      expect(await readFile(join(jobDir, 'master.sh'), 'utf8')).toBe('echo v1\n');
    }
  });

  it('no branch, no commit: the default branch', async () => {
    const { cacheDir, jobDir } = await caseDir();
    const result = await prepareSandbox({
      source: { kind: 'git', url: url(repos.sandbox), scripts: [] },
      cacheDir,
      jobDir,
    });
    expect(result.commit).toBe(commits.second);
  });

  it('a push to the branch is a new version: the next token gets the new checkout, never the cached one', async () => {
    const origin = join(root, 'pushed');
    await mkdir(origin);
    await git(origin, 'init', '--quiet', '-b', 'main');
    await commitFiles(origin, { 'master.sh': 'echo before\n' }, 'before');
    const { dir, cacheDir } = await caseDir();
    const source: GitSandbox = { kind: 'git', url: url(origin), branch: 'main', scripts: [] };
    await prepareSandbox({ source, cacheDir, jobDir: join(dir, 'j1') });
    expect((await prepareSandbox({ source, cacheDir, jobDir: join(dir, 'j2') })).fromCache).toBe(true);
    const pushed = await commitFiles(origin, { 'master.sh': 'echo after\n' }, 'after');
    const fresh = await prepareSandbox({ source, cacheDir, jobDir: join(dir, 'j3') });
    expect(fresh.fromCache).toBe(false);
    expect(fresh.commit).toBe(pushed);
    expect(await readFile(join(dir, 'j3', 'master.sh'), 'utf8')).toBe('echo after\n');
  });

  it("a bad URL: E_SANDBOX carrying git's own stderr, nothing cached", async () => {
    const { dir, cacheDir, jobDir } = await caseDir();
    const missing = url(join(root, 'no-such-repo.git'));
    const own = await execa('git', ['clone', '--quiet', '--depth', '1', '--', missing, join(dir, 'probe')], {
      reject: false,
      env: { LC_ALL: 'C' },
    });
    const gitSays = own.stderr.split('\n').find((line) => line.startsWith('fatal:'));
    expect(gitSays).toBeDefined();
    const err = await failure(
      prepareSandbox({ source: { kind: 'git', url: missing, scripts: [] }, cacheDir, jobDir }),
    );
    expect(err.code).toBe('E_SANDBOX');
    expect(err.message).toContain(missing);
    expect(err.message).toContain(gitSays!);
    expect(await readdir(cacheDir).catch(() => [])).toEqual([]);
  });

  it('a branch that does not exist, and a commit that does not exist', async () => {
    const { cacheDir, jobDir } = await caseDir();
    const badBranch = await failure(
      prepareSandbox({
        source: { kind: 'git', url: url(repos.sandbox), branch: 'no-such-branch', scripts: [] },
        cacheDir,
        jobDir,
      }),
    );
    expect(badBranch.code).toBe('E_SANDBOX');
    // Found out by `git ls-remote` before anything is cloned.
    expect(badBranch.message).toContain(`git branch no-such-branch of ${url(repos.sandbox)} does not exist`);
    const badCommit = await failure(
      prepareSandbox({
        source: { kind: 'git', url: url(repos.sandbox), commit: 'deadbeef', scripts: [] },
        cacheDir,
        jobDir,
      }),
    );
    expect(badCommit.message).toContain('deadbeef');
    expect(badCommit.details.stderr).toBeTruthy();
    expect(await readdir(cacheDir).catch(() => [])).toEqual([]);
  });

  it('refuses a checkout_dir outside the sandbox and a ref that looks like an option', async () => {
    const { cacheDir, jobDir } = await caseDir();
    const outside = await failure(
      prepareSandbox({
        source: {
          kind: 'git',
          url: url(repos.sandbox),
          scripts: [{ name: 'evil', url: url(repos.prefactor), checkoutDir: '../../evil' }],
        },
        cacheDir,
        jobDir,
      }),
    );
    expect(outside.code).toBe('E_SANDBOX');
    expect(outside.message).toContain('../../evil');
    const option = await failure(
      prepareSandbox({
        source: { kind: 'git', url: url(repos.sandbox), branch: '--upload-pack=touch /tmp/x', scripts: [] },
        cacheDir,
        jobDir,
      }),
    );
    expect(option.code).toBe('E_SANDBOX');
  });

  it('git missing: E_TOOL_MISSING', async () => {
    const { cacheDir, jobDir } = await caseDir();
    const err = await failure(
      prepareSandbox({
        source: { kind: 'git', url: url(repos.sandbox), scripts: [] },
        cacheDir,
        jobDir,
        git: join(root, 'no-git'),
      }),
    );
    expect(err.code).toBe('E_TOOL_MISSING');
  });
});
