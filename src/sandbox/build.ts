import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, cp, lstat, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileProblem, LrtError, outputFolderProblem, redactUrl } from '../core';
import { checkout } from './checkout';
import { parseSandboxConfig, type SandboxRepo, type SandboxSpec, specFromDir } from './config';
import { listSandbox, sandboxProblems } from './inspect';
import { sandboxEntries, writeReproducibleTarGz } from './tarball';

export { parseSandboxConfig, type SandboxRepo, type SandboxSpec, specFromDir } from './config';
export { SANDBOX_MTIME, sandboxEntries, writeReproducibleTarGz } from './tarball';

/** Written at the root of each sandbox: the repositories and commits that went in. */
export const MANIFEST_NAME = 'lrt-sandbox.json';
/** Where the pilot bundle sits inside the sandbox. */
export const PILOT_ENTRY = 'pilot.js';

/** The package root (the folder with grid-lrt's package.json), from this module's location. */
export function packageRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && /"name":\s*"grid-lrt"/.test(readFileSync(pkg, 'utf8'))) return dir;
    if (dirname(dir) === dir) return resolve(from, '..');
  }
}

export function defaultPilotPath(): string {
  return join(packageRoot(), 'dist', 'pilot.js');
}

// ---------------------------------------------------------------- staging and packing

async function copyInto(from: string, to: string): Promise<void> {
  const info = await stat(from).catch((err) => {
    throw new LrtError('E_SANDBOX', `cannot read ${from} for the sandbox: ${fileProblem(err)}`);
  });
  await mkdir(dirname(to), { recursive: true });
  await cp(from, to, {
    recursive: info.isDirectory(),
    verbatimSymlinks: true,
    filter: (src) => basename(src) !== '.git',
  });
}

export interface BuildOptions {
  outDir: string;
  /** dist/pilot.js to include; false builds without it. Default: <package root>/dist/pilot.js. */
  pilotPath?: string | false;
  /** Take a branch head when a repository has no commit (the commit taken is recorded). */
  allowUnpinned?: boolean;
  /** A node runtime to put at the root (lrt submit's --with-runtime file): for pilots started from the sandbox. */
  runtime?: { file: string; entry: string; sha256: string; version: string };
  tmpDir?: string;
}

export interface BuildResult {
  file: string;
  name: string;
  sha256: string;
  bytes: number;
  entries: string[];
  repos: { name: string; url: string; dir: string; commit: string; branch?: string }[];
  pilot?: { from: string; sha256: string };
  warnings: string[];
}

function pilotMissing(path: string): LrtError {
  return new LrtError(
    'E_SANDBOX',
    `the pilot bundle ${path} does not exist: run 'npm run build' to make dist/pilot.js, pass --pilot FILE, or --no-pilot to build without it`,
    { details: { pilot: path } },
  );
}

/** Builds `<outDir>/<name>-<sha256:16>.tar.gz` from `spec`. */
export async function buildSandbox(spec: SandboxSpec, options: BuildOptions): Promise<BuildResult> {
  const pilot = options.pilotPath === false ? undefined : resolve(options.pilotPath ?? defaultPilotPath());
  if (pilot && !existsSync(pilot)) throw pilotMissing(pilot);
  const outProblem = await outputFolderProblem(options.outDir);
  if (outProblem) {
    throw new LrtError('E_IO', `cannot write the sandbox to ${options.outDir}: ${outProblem}`, {
      details: { outDir: options.outDir },
    });
  }
  const work = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'lrt-sandbox-'));
  const root = join(work, 'root');
  const warnings = [...spec.warnings];
  try {
    await mkdir(root);
    const repos: BuildResult['repos'] = [];
    const addRepo = async (repo: SandboxRepo) => {
      const dest = repo.dir ? join(root, repo.dir) : join(work, 'base');
      const commit = await checkout(repo, dest, options.allowUnpinned ?? false);
      if (!repo.commit) warnings.push(`repository "${repo.name}" is not pinned: took ${commit}`);
      if (!repo.dir) await cp(dest, root, { recursive: true, verbatimSymlinks: true });
      repos.push({
        name: repo.name,
        url: redactUrl(repo.url),
        dir: repo.dir,
        commit,
        ...(repo.branch ? { branch: repo.branch } : {}),
      });
    };
    if (spec.baseRepo) await addRepo(spec.baseRepo);
    if (spec.baseDir) await copyInto(spec.baseDir, root);
    for (const f of spec.files) await copyInto(f.from, join(root, f.to));
    for (const repo of spec.repos) await addRepo(repo);
    let pilotInfo: BuildResult['pilot'];
    if (pilot) {
      await copyInto(pilot, join(root, PILOT_ENTRY));
      pilotInfo = { from: pilot, sha256: createHash('sha256').update(readFileSync(pilot)).digest('hex') };
    }
    if (options.runtime) await copyInto(options.runtime.file, join(root, options.runtime.entry));
    const master = join(root, 'master.sh');
    const info = await lstat(master).catch(() => undefined);
    if (!info?.isFile())
      throw new LrtError('E_SANDBOX', `sandbox "${spec.name}" has no master.sh file at its root`);
    if ((info.mode & 0o100) === 0) {
      warnings.push('master.sh was not executable: packed as 0755');
      await chmod(master, 0o755);
    }
    // No name or date: the hash depends on the content only.
    const manifest = {
      repos: repos.map(({ name, url, dir, commit }) => ({ name, url, dir, commit })),
      ...(pilotInfo ? { pilot: { file: PILOT_ENTRY, sha256: pilotInfo.sha256 } } : {}),
      // sha256 of the unpacked node binary, as the job wrappers check it
      ...(options.runtime
        ? {
            runtime: {
              file: options.runtime.entry,
              node: options.runtime.version,
              sha256: options.runtime.sha256,
            },
          }
        : {}),
    };
    await writeFile(join(root, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
    const entries = await sandboxEntries(root);
    await mkdir(options.outDir, { recursive: true });
    const partial = join(options.outDir, `.${spec.name}.${basename(work)}.part`);
    const { sha256, bytes } = await writeReproducibleTarGz(root, entries, partial);
    // What the workers would refuse (link chains out of the tree ...) is refused here already.
    const unsafe = sandboxProblems(await listSandbox(partial)).find((p) => p.unsafe);
    if (unsafe) {
      await rm(partial, { force: true });
      throw new LrtError('E_UNSAFE_ENTRY', `sandbox entry ${unsafe.path} ${unsafe.problem}`);
    }
    const file = join(options.outDir, `${spec.name}-${sha256.slice(0, 16)}.tar.gz`);
    await rename(partial, file);
    return {
      file,
      name: spec.name,
      sha256,
      bytes,
      entries,
      repos,
      ...(pilotInfo ? { pilot: pilotInfo } : {}),
      warnings,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** `lrt sandbox build PATH`: a folder is the sandbox itself, a file is a sandbox config. */
export async function buildSandboxFrom(path: string, options: BuildOptions): Promise<BuildResult> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new LrtError('E_NOT_FOUND', `${path}: no such folder or sandbox config`);
  const spec = info.isDirectory()
    ? specFromDir(path)
    : parseSandboxConfig(readFileSync(path, 'utf8'), path, dirname(resolve(path)));
  return buildSandbox(spec, options);
}
