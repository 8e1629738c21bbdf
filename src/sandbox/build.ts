import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import {
  chmod,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readlink,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, posix, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { execa } from 'execa';
import * as tar from 'tar';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { errorMessage, LrtError, redactUrl } from '../core';
import { listSandbox, sandboxProblems } from './inspect';

/** Every entry gets this mtime (1980-01-01, the zip epoch): the same inputs give the same bytes. */
export const SANDBOX_MTIME = new Date(Date.UTC(1980, 0, 1));
/** Written at the root of each sandbox: the repositories and commits that went in. */
export const MANIFEST_NAME = 'lrt-sandbox.json';
/** Where the pilot bundle sits inside the sandbox. */
export const PILOT_ENTRY = 'pilot.js';

export interface SandboxRepo {
  name: string;
  url: string;
  commit?: string;
  branch?: string;
  /** Folder inside the sandbox; '' for the base repository (its files at the root). */
  dir: string;
}

/** What goes into a sandbox, with every path resolved: the pure result of reading a config or a folder. */
export interface SandboxSpec {
  name: string;
  /** Folder copied to the root first (master.sh, bin/ ...). */
  baseDir?: string;
  /** Repository checked out at the root first (GRID_PiCaS_Launcher's `sandbox.git`). */
  baseRepo?: SandboxRepo;
  files: { from: string; to: string }[];
  repos: SandboxRepo[];
  warnings: string[];
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;

/** A relative path that stays inside the sandbox, in posix form. */
function insidePath(path: string, what: string, file: string): string {
  const norm = posix.normalize(path.replace(/\\/g, '/')).replace(/\/+$/, '');
  if (norm === '' || norm === '.' || norm.startsWith('../') || norm === '..' || posix.isAbsolute(norm)) {
    throw new LrtError('E_CONFIG', `${file}: ${what} "${path}" must be a relative path inside the sandbox`);
  }
  return norm;
}

function repoFrom(
  name: string,
  raw: unknown,
  file: string,
  configDir: string,
  defaultDir: string,
): SandboxRepo {
  if (!isRecord(raw)) throw new LrtError('E_CONFIG', `${file}: repository "${name}" must be a mapping`);
  const url = text(raw.url) ?? text(raw.git_url) ?? text(raw.location);
  if (!url) throw new LrtError('E_CONFIG', `${file}: repository "${name}" has no url`);
  const local = !/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !/^[^/]+@[^/]+:/.test(url);
  for (const ref of [text(raw.commit), text(raw.branch)]) {
    // Refs go to git as arguments: one starting with '-' would be read as an option.
    if (ref !== undefined && (ref.startsWith('-') || /[\s\x00-\x1f]/.test(ref))) {
      throw new LrtError(
        'E_CONFIG',
        `${file}: repository "${name}" has an invalid commit or branch "${ref}"`,
      );
    }
  }
  const dir = text(raw.dir) ?? text(raw.checkout_dir) ?? defaultDir;
  return {
    name,
    url: local ? resolve(configDir, url) : url,
    ...(text(raw.commit) ? { commit: text(raw.commit) } : {}),
    ...(text(raw.branch) ? { branch: text(raw.branch) } : {}),
    dir: dir === '' ? '' : insidePath(dir, `checkout dir of "${name}"`, file),
  };
}

/** `repos:`/`git_scripts:` mappings and GRID_PiCaS_Launcher's `scripts:` list of one-key mappings. */
function reposFrom(raw: unknown, file: string, configDir: string): SandboxRepo[] {
  if (raw === undefined || raw === null) return [];
  const pairs: [string, unknown][] = [];
  if (Array.isArray(raw)) for (const item of raw) pairs.push(...Object.entries(isRecord(item) ? item : {}));
  else if (isRecord(raw)) pairs.push(...Object.entries(raw));
  else throw new LrtError('E_CONFIG', `${file}: repositories must be a mapping or a list`);
  return pairs.map(([name, spec]) => repoFrom(name, spec, file, configDir, name));
}

function filesFrom(raw: unknown, file: string, configDir: string): SandboxSpec['files'] {
  if (raw === undefined || raw === null) return [];
  const pairs: [string, string][] = [];
  if (Array.isArray(raw)) {
    for (const item of raw) {
      if (typeof item !== 'string') throw new LrtError('E_CONFIG', `${file}: files must be paths`);
      pairs.push([basename(item), item]);
    }
  } else if (isRecord(raw)) {
    for (const [to, from] of Object.entries(raw)) {
      if (typeof from !== 'string')
        throw new LrtError('E_CONFIG', `${file}: file "${to}" needs a source path`);
      pairs.push([to, from]);
    }
  } else throw new LrtError('E_CONFIG', `${file}: files must be a list or a mapping`);
  return pairs.map(([to, from]) => ({ from: resolve(configDir, from), to: insidePath(to, 'file', file) }));
}

/** GRID_LRT's upload settings: the sandbox is uploaded by its own command here. */
const IGNORED_LEGACY = ['loc', 'loc2', 'remove_when_done', 'location'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Reads a sandbox config (YAML or JSON): our form (`name`, `dir`, `files`, `repos`, `git`) or
 * GRID_LRT's `sandbox:`/`Sandbox:` section (`git_scripts`, `git`, `scripts`). Pure: paths are
 * resolved against `configDir` but nothing is read.
 */
export function parseSandboxConfig(source: string, file: string, configDir: string): SandboxSpec {
  let value: unknown;
  try {
    value = parseYaml(source, { uniqueKeys: true });
  } catch (err) {
    const at = err instanceof YAMLParseError && err.linePos ? `:${err.linePos[0].line}` : '';
    throw new LrtError('E_CONFIG', `${file}${at}: not a valid sandbox config: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  if (!isRecord(value)) throw new LrtError('E_CONFIG', `${file}: a sandbox config must be a mapping`);
  const section = isRecord(value.sandbox) ? value.sandbox : isRecord(value.Sandbox) ? value.Sandbox : value;
  const warnings: string[] = [];
  for (const key of IGNORED_LEGACY) {
    if (section[key] !== undefined)
      warnings.push(`${file}: "${key}" is ignored: upload the built sandbox with 'lrt sandbox upload'`);
  }
  const git = isRecord(section.git) ? section.git : undefined;
  const baseRepo = git ? repoFrom('sandbox', git, file, configDir, '') : undefined;
  const repos = [
    ...reposFrom(section.repos, file, configDir),
    ...reposFrom(section.git_scripts, file, configDir),
    ...reposFrom(section.scripts, file, configDir),
  ];
  const dir = text(section.dir);
  const spec: SandboxSpec = {
    name: text(section.name) ?? basename(file).replace(/\.[^.]*$/, ''),
    ...(dir ? { baseDir: resolve(configDir, dir) } : {}),
    ...(baseRepo ? { baseRepo } : {}),
    files: filesFrom(section.files, file, configDir),
    repos,
    warnings,
  };
  if (!NAME.test(spec.name)) {
    throw new LrtError(
      'E_CONFIG',
      `${file}: sandbox name "${spec.name}" must use letters, digits, '.', '_', '-'`,
    );
  }
  if (!spec.baseDir && !spec.baseRepo && spec.files.length === 0 && repos.length === 0) {
    throw new LrtError('E_CONFIG', `${file}: names no folder, files or repositories for the sandbox`);
  }
  return spec;
}

/** The sandbox of a folder that holds master.sh and bin/ (everything in it goes in). */
export function specFromDir(dir: string): SandboxSpec {
  return { name: basename(resolve(dir)), baseDir: resolve(dir), files: [], repos: [], warnings: [] };
}

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

// ---------------------------------------------------------------- repositories

async function git(args: string[], repo: SandboxRepo, what: string): Promise<string> {
  const result = await execa('git', args, {
    reject: false,
    stdin: 'ignore',
    env: { GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'echo' },
  });
  if ((result as { code?: string }).code === 'ENOENT') {
    throw new LrtError(
      'E_TOOL_MISSING',
      'git is not installed: it is needed to put repositories in a sandbox',
    );
  }
  if (result.exitCode !== 0) {
    const tail = String(result.stderr).trim().split('\n').slice(-3).join(' | ');
    throw new LrtError(
      'E_SANDBOX',
      `repository "${repo.name}" (${redactUrl(repo.url)}): ${what} failed: ${redactUrl(tail) || `git exit ${result.exitCode}`}`,
      { details: { repository: repo.name, url: redactUrl(repo.url) } },
    );
  }
  return String(result.stdout).trim();
}

/** Clones `repo` into `dest` at its pinned commit (or its branch head when allowed); returns the commit. */
async function checkout(repo: SandboxRepo, dest: string, allowUnpinned: boolean): Promise<string> {
  if (!repo.commit && !allowUnpinned) {
    throw new LrtError(
      'E_CONFIG',
      `repository "${repo.name}" (${redactUrl(repo.url)}) is not pinned: give it a commit, or pass --allow-unpinned to take the head of ${repo.branch ?? 'its default branch'}`,
    );
  }
  const branch = repo.branch && !repo.commit ? ['--branch', repo.branch, '--single-branch'] : [];
  await git(['clone', '--quiet', '--no-checkout', ...branch, '--', repo.url, dest], repo, 'git clone');
  const target = repo.commit ?? 'HEAD';
  const commit = await git(
    ['-C', dest, 'rev-parse', '--verify', '--quiet', `${target}^{commit}`],
    repo,
    `finding commit ${target}`,
  );
  await git(
    ['-C', dest, '-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', commit],
    repo,
    `checkout of ${target}`,
  );
  await rm(join(dest, '.git'), { recursive: true, force: true });
  return commit;
}

// ---------------------------------------------------------------- staging and packing

async function copyInto(from: string, to: string): Promise<void> {
  const info = await stat(from).catch((err) => {
    throw new LrtError(
      'E_SANDBOX',
      `cannot read ${from} for the sandbox: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`,
    );
  });
  await mkdir(dirname(to), { recursive: true });
  await cp(from, to, {
    recursive: info.isDirectory(),
    verbatimSymlinks: true,
    filter: (src) => basename(src) !== '.git',
  });
}

/** Every path under `root`, sorted by code point, checked: plain files, folders and inside symlinks only. */
export async function sandboxEntries(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  const names = (await readdir(join(root, rel))).sort();
  for (const name of names) {
    const path = rel ? `${rel}/${name}` : name;
    const info = await lstat(join(root, path));
    if (info.isSymbolicLink()) {
      const target = await readlink(join(root, path));
      const resolved = posix.normalize(posix.join(posix.dirname(path), target));
      if (isAbsolute(target) || resolved === '..' || resolved.startsWith('../')) {
        throw new LrtError(
          'E_UNSAFE_ENTRY',
          `sandbox entry ${path} is a symlink to ${target}, outside the sandbox`,
        );
      }
      out.push(path);
    } else if (info.isDirectory()) {
      out.push(path, ...(await sandboxEntries(root, path)));
    } else if (info.isFile()) {
      out.push(path);
    } else {
      throw new LrtError('E_UNSAFE_ENTRY', `sandbox entry ${path} is not a file, folder or symlink`);
    }
  }
  return out.sort();
}

/** Owner-executable files become 0755, other files 0644, folders 0755: umask and owner do not leak in. */
function normaliseEntry(entry: { type?: string; stat?: { mode: number }; noMtime?: boolean }): void {
  // tar's portable mode drops the mtime of folders; GNU tar would then show 1970.
  if (entry.type === 'Directory') entry.noMtime = false;
  if (!entry.stat) return;
  const kind = entry.stat.mode & 0o170000;
  if (entry.type === 'Directory') entry.stat.mode = kind | 0o755;
  else if (entry.type === 'SymbolicLink') entry.stat.mode = kind | 0o777;
  else entry.stat.mode = kind | (entry.stat.mode & 0o100 ? 0o755 : 0o644);
}

/** Packs `entries` of `root` in that order into `dest` (.tar.gz); returns sha256 and size of the bytes. */
export async function writeReproducibleTarGz(
  root: string,
  entries: string[],
  dest: string,
): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  const pack = tar.create(
    { cwd: root, portable: true, noDirRecurse: true, mtime: SANDBOX_MTIME, onWriteEntry: normaliseEntry },
    entries,
  );
  // node's gzip header carries no mtime or file name: only the bytes decide the output.
  await pipeline(pack, createGzip({ level: 9 }), tap, createWriteStream(dest, { mode: 0o644 }));
  return { sha256: hash.digest('hex'), bytes };
}

export interface BuildOptions {
  outDir: string;
  /** dist/pilot.js to include; false builds without it. Default: <package root>/dist/pilot.js. */
  pilotPath?: string | false;
  /** Take a branch head when a repository has no commit (the commit taken is recorded). */
  allowUnpinned?: boolean;
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
