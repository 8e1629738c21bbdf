import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { LrtError, redactUrl } from '../core';
import type { SandboxRepo } from './config';

/* The repositories of a sandbox, checked out at their pinned commit. */

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
export async function checkout(repo: SandboxRepo, dest: string, allowUnpinned: boolean): Promise<string> {
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
