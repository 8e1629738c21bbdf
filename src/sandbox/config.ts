import { basename, posix, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { errorMessage, LrtError } from '../core';

/* What goes into a sandbox: read from a config (ours or GRID_LRT's) or a folder. Pure. */

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
