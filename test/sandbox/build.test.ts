import { createHash } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildSandbox,
  buildSandboxFrom,
  parseSandboxConfig,
  SANDBOX_MTIME,
  specFromDir,
} from '../../src/sandbox/build';
import { inspectSandbox } from '../../src/sandbox/inspect';
import { lrt, lrtProcess } from '../helpers/cli';

const FIXTURES = resolve(__dirname, '../fixtures/sandbox-build');
const scratch = mkdtempSync(join(tmpdir(), 'lrt-build-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let counter = 0;
function dir(name: string): string {
  const path = join(scratch, `${name}-${counter++}`);
  mkdirSync(path, { recursive: true });
  return path;
}

const MASTER = '#!/bin/bash\necho "processing $TOKEN"\n';
const SETUP = '#!/bin/bash\nexport X=1\n';
const PILOT = '#!/usr/bin/env node\nconsole.log("pilot stand-in");\n';

/** A sandbox folder as a user keeps it; modes and times as given. */
function sandboxFolder(options: { exeMode?: number; fileMode?: number; mtime?: number } = {}): string {
  const root = dir('sbx');
  mkdirSync(join(root, 'bin'));
  writeFileSync(join(root, 'master.sh'), MASTER);
  writeFileSync(join(root, 'bin', 'setup.sh'), SETUP);
  writeFileSync(join(root, 'bin', 'params.txt'), 'a=1\n');
  writeFileSync(join(root, 'README'), 'demo sandbox\n');
  chmodSync(join(root, 'master.sh'), options.exeMode ?? 0o755);
  chmodSync(join(root, 'bin', 'setup.sh'), options.exeMode ?? 0o755);
  chmodSync(join(root, 'bin', 'params.txt'), options.fileMode ?? 0o644);
  chmodSync(join(root, 'README'), options.fileMode ?? 0o644);
  if (options.mtime !== undefined) {
    for (const p of ['master.sh', 'bin/setup.sh', 'bin/params.txt', 'README', 'bin', '.']) {
      utimesSync(join(root, p), options.mtime, options.mtime);
    }
  }
  return root;
}

function pilotFile(): string {
  const path = join(dir('pilot'), 'pilot.js');
  writeFileSync(path, PILOT);
  return path;
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('sandbox build from a folder', () => {
  it('packs master.sh, bin/, pilot.js and the manifest; the name carries the content hash', async () => {
    const result = await buildSandbox(specFromDir(sandboxFolder()), {
      outDir: dir('out'),
      pilotPath: pilotFile(),
    });
    expect(result.sha256).toBe(sha256(result.file));
    expect(result.file).toMatch(new RegExp(`-${result.sha256.slice(0, 16)}\\.tar\\.gz$`));

    const extracted = dir('x');
    await execa('tar', ['-xzf', result.file, '-C', extracted]);
    expect(readFileSync(join(extracted, 'master.sh'), 'utf8')).toBe(MASTER);
    expect(readFileSync(join(extracted, 'bin', 'setup.sh'), 'utf8')).toBe(SETUP);
    expect(readFileSync(join(extracted, 'pilot.js'), 'utf8')).toBe(PILOT);
    const manifest = JSON.parse(readFileSync(join(extracted, 'lrt-sandbox.json'), 'utf8'));
    expect(manifest.pilot.sha256).toBe(createHash('sha256').update(PILOT).digest('hex'));

    // GNU tar's own listing: sorted entries, owner 0/0, fixed time, normalised modes.
    const { stdout } = await execa('tar', ['-tvzf', result.file, '--numeric-owner', '--full-time'], {
      env: { TZ: 'UTC' },
    });
    const rows = stdout.split('\n').map((l) => l.split(/\s+/));
    const names = rows.map((r) => r[5]!.replace(/\/$/, ''));
    expect(names).toEqual([...names].sort());
    expect(names).toEqual([
      'README',
      'bin',
      'bin/params.txt',
      'bin/setup.sh',
      'lrt-sandbox.json',
      'master.sh',
      'pilot.js',
    ]);
    for (const r of rows) {
      expect(r[1]).toBe('0/0');
      expect(`${r[3]}T${r[4]}Z`).toBe(SANDBOX_MTIME.toISOString().replace('.000', ''));
    }
    const mode = (name: string) => rows[names.indexOf(name)]![0];
    expect(mode('master.sh')).toBe('-rwxr-xr-x');
    expect(mode('bin')).toBe('drwxr-xr-x');
    expect(mode('bin/params.txt')).toBe('-rw-r--r--');

    const inspection = await inspectSandbox(result.file);
    expect(inspection.ok).toBe(true);
  });

  it('gives identical bytes twice, and across other file times, modes and umask', async () => {
    const pilot = pilotFile();
    const a = await buildSandbox(specFromDir(sandboxFolder()), { outDir: dir('out'), pilotPath: pilot });
    const b = await buildSandbox(specFromDir(sandboxFolder()), { outDir: dir('out'), pilotPath: pilot });
    expect(readFileSync(b.file).equals(readFileSync(a.file))).toBe(true);

    const old = process.umask(0o077);
    try {
      const folder = sandboxFolder({ exeMode: 0o700, fileMode: 0o600, mtime: 1_000_000_000 });
      const c = await buildSandbox(specFromDir(folder), { outDir: dir('out'), pilotPath: pilot });
      expect(c.sha256).toBe(a.sha256);
      expect(readFileSync(c.file).equals(readFileSync(a.file))).toBe(true);
    } finally {
      process.umask(old);
    }

    const changed = sandboxFolder();
    writeFileSync(join(changed, 'bin', 'params.txt'), 'a=2\n');
    const d = await buildSandbox(specFromDir(changed), { outDir: dir('out'), pilotPath: pilot });
    expect(d.sha256).not.toBe(a.sha256);
  });

  it('keeps long paths reproducible (pax headers)', async () => {
    const folder = sandboxFolder();
    const deep = join(folder, 'lib', 'a'.repeat(60), 'b'.repeat(60));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, `${'c'.repeat(90)}.py`), 'print(1)\n');
    const out = dir('out');
    const a = await buildSandbox(specFromDir(folder), { outDir: out, pilotPath: false });
    const copy = dir('copy');
    await execa('cp', ['-a', `${folder}/.`, copy]);
    utimesSync(join(deep, `${'c'.repeat(90)}.py`), 5, 5);
    const b = await buildSandbox(specFromDir(copy), { outDir: dir('out'), pilotPath: false });
    expect(b.sha256).toBe(a.sha256);
    const { stdout } = await execa('tar', ['-tzf', a.file]);
    expect(stdout).toContain(`${'b'.repeat(60)}/${'c'.repeat(90)}.py`);
  });

  it('says clearly when the pilot bundle is missing, and builds without it on request', async () => {
    const folder = sandboxFolder();
    const missing = join(scratch, 'nowhere', 'pilot.js');
    await expect(
      buildSandbox(specFromDir(folder), { outDir: dir('out'), pilotPath: missing }),
    ).rejects.toMatchObject({
      code: 'E_SANDBOX',
      message: expect.stringContaining('npm run build'),
    });
    const res = await lrt(['sandbox', 'build', folder, '-o', dir('out'), '--pilot', missing]);
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toContain(missing);
    const without = await buildSandbox(specFromDir(folder), { outDir: dir('out'), pilotPath: false });
    expect(without.entries).not.toContain('pilot.js');
  });

  it('refuses a folder without master.sh and symlinks that leave the sandbox', async () => {
    const empty = dir('empty');
    writeFileSync(join(empty, 'run.sh'), MASTER);
    await expect(
      buildSandbox(specFromDir(empty), { outDir: dir('out'), pilotPath: false }),
    ).rejects.toMatchObject({
      code: 'E_SANDBOX',
      message: expect.stringContaining('master.sh'),
    });
    const escaping = sandboxFolder();
    symlinkSync('../../etc/passwd', join(escaping, 'bin', 'passwd'));
    await expect(
      buildSandbox(specFromDir(escaping), { outDir: dir('out'), pilotPath: false }),
    ).rejects.toMatchObject({
      code: 'E_UNSAFE_ENTRY',
      message: expect.stringContaining('bin/passwd'),
    });
    // Each link looks inside on its own; followed in turn, bin/m leaves the tree (as the worker judges it).
    const chained = sandboxFolder();
    symlinkSync('..', join(chained, 'bin', 'l'));
    symlinkSync('l/..', join(chained, 'bin', 'm'));
    await expect(
      buildSandbox(specFromDir(chained), { outDir: dir('out'), pilotPath: false }),
    ).rejects.toMatchObject({
      code: 'E_UNSAFE_ENTRY',
      message: expect.stringContaining('bin/m'),
    });
    const inside = sandboxFolder();
    symlinkSync('setup.sh', join(inside, 'bin', 'init.sh'));
    const ok = await buildSandbox(specFromDir(inside), { outDir: dir('out'), pilotPath: false });
    const listed = (await inspectSandbox(ok.file)).entries.find((e) => e.path === 'bin/init.sh');
    expect(listed).toMatchObject({ type: 'SymbolicLink', linkpath: 'setup.sh' });
  });
});

describe('sandbox build -o that cannot take the tarball', () => {
  it('names the part of the path that is a file, before any work, and creates nothing', async () => {
    const place = dir('outfile');
    const file = join(place, 'results.txt');
    writeFileSync(file, 'not a folder\n');
    for (const out of [file, join(file, 'sandboxes')]) {
      const res = await lrt(['sandbox', 'build', sandboxFolder(), '-o', out, '--no-pilot']);
      expect(res.exitCode).toBe(1);
      expect(res.stderr).toBe(`lrt: cannot write the sandbox to ${out}: ${file} is a file, not a folder\n`);
    }
    expect(readdirSync(place)).toEqual(['results.txt']);
  });
});

describe('sandbox upload', () => {
  it('puts the tarball under its own name in a folder URL and prints where it went', async () => {
    const built = await buildSandbox(specFromDir(sandboxFolder()), { outDir: dir('out'), pilotPath: false });
    const store = dir('store');
    const res = await lrt(['sandbox', 'upload', built.file, `file://${store}/sandboxes/`, '--create-dirs']);
    expect(res.stderr).toContain('uploaded');
    expect(res.exitCode).toBe(0);
    const name = built.file.split('/').at(-1)!;
    expect(res.stdout.trim()).toBe(`file://${store}/sandboxes/${name}`);
    expect(sha256(join(store, 'sandboxes', name))).toBe(built.sha256);
    // The hint names the flag a user types, never the option name inside the code.
    const missing = await lrtProcess(['sandbox', 'upload', built.file, `file://${store}/absent/`]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain(`the destination directory does not exist: ${store}/absent`);
    expect(missing.stderr).toContain('create it, or pass --create-dirs');
    expect(missing.stderr).not.toContain('createDirs');
  });

  it('a folder URL without its final /: says so, and leaves nothing behind', async () => {
    const built = await buildSandbox(specFromDir(sandboxFolder()), { outDir: dir('out'), pilotPath: false });
    const store = dir('store');
    const res = await lrt(['sandbox', 'upload', built.file, `file://${store}`]);
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toBe(
      `lrt: upload to file://${store} failed: the destination is a folder, not a file name (a folder URL ends in /)\n`,
    );
    expect(readdirSync(dirname(store)).filter((f) => f.endsWith('.part'))).toEqual([]);
  });

  it('--bearer-token-file that is missing, a folder or empty: named as the flag, nothing sent', async () => {
    const built = await buildSandbox(specFromDir(sandboxFolder()), { outDir: dir('out'), pilotPath: false });
    const target = 'https://127.0.0.1:9/sandboxes/';
    const tokens = dir('tokens');
    const absent = join(tokens, 'absent.token');
    const missing = await lrt(['sandbox', 'upload', built.file, target, '--bearer-token-file', absent]);
    expect(missing.exitCode).toBe(5);
    expect(missing.stderr).toBe(`lrt: --bearer-token-file ${absent}: cannot read it: no such file\n`);
    const folder = await lrt(['sandbox', 'upload', built.file, target, '--bearer-token-file', tokens]);
    expect(folder.exitCode).toBe(1);
    expect(folder.stderr).toBe(`lrt: --bearer-token-file ${tokens}: cannot read it: it is a directory\n`);
    const empty = join(tokens, 'empty.token');
    writeFileSync(empty, '\n');
    const blank = await lrt(['sandbox', 'upload', built.file, target, '--bearer-token-file', empty]);
    expect(blank.exitCode).toBe(7);
    expect(blank.stderr).toBe(`lrt: --bearer-token-file ${empty} is empty\n`);
  });
});

const GIT_ENV = {
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.org',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.org',
};

/** A real git repository with two commits of `tool.py`; returns the path and both commit ids. */
async function gitRepo(): Promise<{ path: string; first: string; second: string }> {
  const path = dir('repo');
  const run = (args: string[]) => execa('git', ['-C', path, ...args], { env: GIT_ENV });
  await run(['init', '--quiet', '--initial-branch', 'main']);
  writeFileSync(join(path, 'tool.py'), 'VERSION = 1\n');
  await run(['add', 'tool.py']);
  await run(['commit', '--quiet', '-m', 'one']);
  const first = (await run(['rev-parse', 'HEAD'])).stdout.trim();
  writeFileSync(join(path, 'tool.py'), 'VERSION = 2\n');
  await run(['commit', '--quiet', '-am', 'two']);
  const second = (await run(['rev-parse', 'HEAD'])).stdout.trim();
  return { path, first, second };
}

describe('sandbox build from a config', () => {
  it('clones repositories at their pinned commit, without .git, and records the commit', async () => {
    const repo = await gitRepo();
    const folder = sandboxFolder();
    const configDir = dir('cfg');
    const config = join(configDir, 'sandbox.yaml');
    writeFileSync(
      config,
      [
        'name: pref_demo',
        `dir: ${folder}`,
        'files:',
        `  extra/notes.txt: ${join(folder, 'README')}`,
        'repos:',
        '  tools:',
        `    url: ${repo.path}`,
        `    commit: ${repo.first.slice(0, 7)}`,
        '    dir: scripts/tools',
      ].join('\n'),
    );
    const result = await buildSandboxFrom(config, { outDir: dir('out'), pilotPath: false });
    expect(result.name).toBe('pref_demo');
    expect(result.repos).toEqual([
      { name: 'tools', url: repo.path, dir: 'scripts/tools', commit: repo.first },
    ]);
    const x = dir('x');
    await execa('tar', ['-xzf', result.file, '-C', x]);
    expect(readFileSync(join(x, 'scripts/tools/tool.py'), 'utf8')).toBe('VERSION = 1\n');
    expect(readFileSync(join(x, 'extra/notes.txt'), 'utf8')).toBe('demo sandbox\n');
    expect(result.entries.some((e) => e.includes('.git'))).toBe(false);
    expect(JSON.parse(readFileSync(join(x, 'lrt-sandbox.json'), 'utf8')).repos[0].commit).toBe(repo.first);

    // The same config again: the same bytes (clone times do not leak in).
    const again = await buildSandboxFrom(config, { outDir: dir('out'), pilotPath: false });
    expect(again.sha256).toBe(result.sha256);
  });

  it('surfaces git errors and refuses unpinned repositories unless asked', async () => {
    const repo = await gitRepo();
    const folder = sandboxFolder();
    const write = (repoLines: string[]) => {
      const config = join(dir('cfg'), 'sandbox.yaml');
      writeFileSync(config, [`dir: ${folder}`, 'repos:', '  tools:', ...repoLines].join('\n'));
      return config;
    };
    const unpinned = write([`    url: ${repo.path}`, '    branch: main']);
    await expect(buildSandboxFrom(unpinned, { outDir: dir('out'), pilotPath: false })).rejects.toMatchObject({
      code: 'E_CONFIG',
      message: expect.stringContaining('not pinned'),
    });
    const head = await buildSandboxFrom(unpinned, {
      outDir: dir('out'),
      pilotPath: false,
      allowUnpinned: true,
    });
    expect(head.repos[0]!.commit).toBe(repo.second);
    expect(head.warnings.join('\n')).toContain(repo.second);

    const badCommit = write([`    url: ${repo.path}`, '    commit: 0123456789abcdef']);
    await expect(buildSandboxFrom(badCommit, { outDir: dir('out'), pilotPath: false })).rejects.toMatchObject(
      {
        code: 'E_SANDBOX',
        message: expect.stringMatching(/repository "tools".*0123456789abcdef/),
      },
    );
    const badUrl = write([`    url: ${join(scratch, 'no-such-repo')}`, '    commit: abc1234']);
    const res = await lrt(['sandbox', 'build', badUrl, '-o', dir('out'), '--no-pilot', '--json']);
    expect(res.exitCode).toBe(1);
    expect(JSON.parse(res.stdout).error).toMatchObject({ code: 'E_SANDBOX' });
    expect(res.stderr).toMatch(/repository "tools".*git clone failed/);
  });

  it("reads GRID_LRT's git_scripts and GRID_PiCaS_Launcher's sandbox.git + scripts", () => {
    const legacy = parseSandboxConfig(
      readFileSync(join(FIXTURES, 'pref_cal1.cfg'), 'utf8'),
      'pref_cal1.cfg',
      '/cfg',
    );
    expect(legacy.name).toBe('pref_cal1');
    expect(legacy.repos).toEqual([
      {
        name: 'prefactor',
        url: 'https://github.com/apmechev/prefactor.git',
        commit: 'c625e8f',
        dir: 'prefactor',
      },
      {
        name: 'tcollector',
        url: 'https://gitlab.com/apmechev/procfs_tcollector.git',
        branch: 'master',
        dir: 'tcollector',
      },
    ]);
    expect(legacy.warnings.join('\n')).toContain('"loc" is ignored');

    const launcher = parseSandboxConfig(
      readFileSync(join(FIXTURES, 'sandbox.json'), 'utf8'),
      'sandbox.json',
      '/cfg',
    );
    expect(launcher.baseRepo).toEqual({
      name: 'sandbox',
      url: 'https://github.com/apmechev/GRID_Sandbox.git',
      branch: 'master',
      dir: '',
    });
    expect(launcher.repos).toEqual([
      {
        name: 'prefactor',
        url: 'https://github.com/lofar-astron/prefactor.git',
        branch: 'version3.0',
        dir: 'prefactor',
      },
    ]);

    const ndppp = parseSandboxConfig(
      readFileSync(join(FIXTURES, 'sandbox_config_NDPPP_from_git.cfg'), 'utf8'),
      'ndppp.cfg',
      '/cfg',
    );
    expect(ndppp.name).toBe('NDPPP_parset');
    expect(ndppp.baseRepo).toMatchObject({
      url: 'https://github.com/apmechev/GRID_Sandbox.git',
      branch: 'NDPPP_parset',
    });
  });

  it('rejects configs that name nothing or escape the sandbox', () => {
    expect(() => parseSandboxConfig('name: x\n', 'a.yaml', '/cfg')).toThrow(/names no folder/);
    expect(() => parseSandboxConfig('files:\n  ../evil: /etc/passwd\n', 'a.yaml', '/cfg')).toThrow(
      /inside the sandbox/,
    );
    expect(() => parseSandboxConfig('dir: [unclosed\n', 'a.yaml', '/cfg')).toThrow(/a\.yaml/);
    expect(() =>
      parseSandboxConfig('repos:\n  r:\n    url: /r\n    commit: --upload-pack=x\n', 'a.yaml', '/cfg'),
    ).toThrow(/invalid commit/);
  });
});
