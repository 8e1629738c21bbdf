import { join } from 'node:path';
import { execa } from 'execa';
import { LrtError, redactUrl } from '../core';
import { entrySegments } from './entryRules';
import { scrubUrlSecrets } from './sources';
import type { GitRepoSpec, GitSandbox } from './sourceTypes';

export interface GitOptions {
  signal?: AbortSignal;
  /** The git program (default `git` on PATH). */
  git?: string;
}

export interface ClonedSandbox {
  /** The commit checked out for the sandbox repository. */
  commit: string;
  /** name -> commit of each script repository. */
  scripts: Record<string, string>;
}

const STDERR_TAIL_LINES = 15;
const STDERR_TAIL_CHARS = 2000;

function stderrTail(stderr: string, url: string): string {
  const lines = stderr.trim().split('\n');
  return scrubUrlSecrets(lines.slice(-STDERR_TAIL_LINES).join('\n').slice(-STDERR_TAIL_CHARS), url);
}

/** Names and refs are passed as arguments: one starting with `-` would be read as an option. */
function checkRef(what: string, value: string | undefined, url: string): void {
  if (value !== undefined && (value.startsWith('-') || value.trim() === '')) {
    throw new LrtError('E_SANDBOX', `git ${what} "${value}" of ${redactUrl(url)} is not a valid ref`);
  }
}

async function git(args: string[], what: string, url: string, options: GitOptions): Promise<string> {
  const result = await execa(options.git ?? 'git', args, {
    reject: false,
    stdin: 'ignore',
    cancelSignal: options.signal,
    forceKillAfterDelay: 5000,
    // Never wait for a password prompt on a worker node.
    env: { GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', LC_ALL: 'C' },
  });
  if (options.signal?.aborted) throw options.signal.reason;
  if (!result.failed) return result.stdout.trim();
  if (result.code === 'ENOENT') {
    throw new LrtError('E_TOOL_MISSING', `git is not installed (needed for the sandbox ${redactUrl(url)})`);
  }
  const tail = stderrTail(result.stderr ?? '', url);
  throw new LrtError(
    'E_SANDBOX',
    `${what} failed (exit ${result.exitCode ?? '?'}): ${tail || result.shortMessage}`,
    {
      details: { url: redactUrl(url), stderr: tail },
    },
  );
}

/**
 * Clones one repository into `dir`: a shallow clone of the branch (or the default branch), or a
 * full clone and a detached checkout when a commit is asked for.
 */
async function cloneRepo(repo: GitRepoSpec, dir: string, options: GitOptions): Promise<string> {
  const { url, branch, commit } = repo;
  if (url.startsWith('-')) throw new LrtError('E_SANDBOX', `git URL "${url}" is not valid`);
  checkRef('branch', branch, url);
  checkRef('commit', commit, url);
  const label = `git clone of ${redactUrl(url)}${branch ? ` (branch ${branch})` : ''}`;
  if (commit === undefined) {
    const branchArgs = branch ? ['--branch', branch] : [];
    await git(['clone', '--quiet', '--depth', '1', ...branchArgs, '--', url, dir], label, url, options);
  } else {
    await git(['clone', '--quiet', '--no-checkout', '--', url, dir], label, url, options);
    await git(
      ['-C', dir, '-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', commit, '--'],
      `git checkout of commit ${commit} in ${redactUrl(url)}`,
      url,
      options,
    );
  }
  return git(['-C', dir, 'rev-parse', 'HEAD'], `git rev-parse in ${redactUrl(url)}`, url, options);
}

/** The commit a branch (or the default branch) points at now, by `git ls-remote`; a pinned commit as it is. */
async function headOf(repo: GitRepoSpec, options: GitOptions): Promise<string> {
  if (repo.commit !== undefined) return repo.commit;
  if (repo.url.startsWith('-')) throw new LrtError('E_SANDBOX', `git URL "${repo.url}" is not valid`);
  checkRef('branch', repo.branch, repo.url);
  const ref = repo.branch ? `refs/heads/${repo.branch}` : 'HEAD';
  const out = await git(
    ['ls-remote', '--', repo.url, ref],
    `git ls-remote of ${redactUrl(repo.url)}`,
    repo.url,
    options,
  );
  const hash = out.split('\n')[0]?.split(/\s+/)[0];
  if (!hash) {
    throw new LrtError(
      'E_SANDBOX',
      `git branch ${repo.branch ?? 'HEAD'} of ${redactUrl(repo.url)} does not exist`,
      {
        details: { url: redactUrl(repo.url) },
      },
    );
  }
  return hash;
}

/**
 * Which version of a git sandbox its branches serve now (the commits they point at): a push to a
 * branch is a new version, so the node cache never runs an old checkout of it.
 */
export async function gitSandboxVersion(source: GitSandbox, options: GitOptions = {}): Promise<string> {
  const heads = [await headOf(source, options)];
  for (const script of source.scripts) heads.push(await headOf(script, options));
  return `commits=${heads.join(',')}`;
}

/** A script repo's checkout_dir, as a path inside the sandbox. */
function checkoutPath(root: string, name: string, checkoutDir: string): string {
  const segs = entrySegments(checkoutDir);
  if (typeof segs === 'string' || segs.length === 0 || segs[0] === '.git') {
    throw new LrtError(
      'E_SANDBOX',
      `sandbox script "${name}": checkout_dir "${checkoutDir}" must stay inside the sandbox`,
    );
  }
  return join(root, ...segs);
}

/** The `config.json.sandbox` git form: the sandbox repository, then each script repository in it. */
export async function cloneGitSandbox(
  source: GitSandbox,
  dest: string,
  options: GitOptions = {},
): Promise<ClonedSandbox> {
  const targets = source.scripts.map((s) => ({ script: s, dir: checkoutPath(dest, s.name, s.checkoutDir) }));
  const commit = await cloneRepo(source, dest, options);
  const scripts: Record<string, string> = {};
  for (const { script, dir } of targets) {
    scripts[script.name] = await cloneRepo(script, dir, options);
  }
  return { commit, scripts };
}
