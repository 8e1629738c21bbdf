import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import * as tar from 'tar';
import { errorMessage, LrtError } from '../core';
import { EntryVetter } from './entryRules';

/** One entry of a sandbox tarball as its header says. */
export interface SandboxEntry {
  path: string;
  type: string;
  mode: number;
  size: number;
  linkpath?: string;
  uid?: number;
  gid?: number;
  mtime?: number;
}

export interface EntryProblem {
  path: string;
  problem: string;
  /** Unsafe entries would write outside the job dir or create devices; the rest are defects. */
  unsafe: boolean;
}

/** `./a/b/` -> `a/b`, to compare names (a path with `..` or a leading `/` keeps them). */
export function entryName(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed.startsWith('./') ? trimmed.slice(2).replace(/^\.\/+/, '') : trimmed;
}

/** Refused by the worker's own extraction rules (entryRules.ts), or carrying setuid/setgid bits. */
function vetEntries(entries: SandboxEntry[]): EntryProblem[] {
  const vetter = new EntryVetter();
  const problems: EntryProblem[] = [];
  for (const e of entries) {
    const refused = vetter.add({
      path: e.path,
      type: e.type,
      linkpath: e.linkpath,
      size: e.size,
      mode: e.mode,
    });
    if (refused) problems.push({ path: e.path, problem: refused.reason, unsafe: true });
    else if ((e.mode & 0o6000) !== 0)
      problems.push({ path: e.path, problem: 'has the setuid or setgid bit', unsafe: true });
  }
  // Link chains can only be judged once every entry is known; the vetter names the first one.
  const late = vetter.finish();
  if (late && !problems.some((p) => p.path === late.path)) {
    problems.push({ path: late.path, problem: late.reason, unsafe: true });
  }
  return problems;
}

/** Why one entry is not acceptable in a sandbox, or undefined when it is fine. Pure. */
export function entryProblem(entry: SandboxEntry): EntryProblem | undefined {
  return vetEntries([entry])[0];
}

/** Problems of the whole listing: every entry, plus master.sh present at the root and executable. */
export function sandboxProblems(entries: SandboxEntry[]): EntryProblem[] {
  const problems = vetEntries(entries);
  const seen = new Set<string>();
  for (const entry of entries) {
    const name = entryName(entry.path);
    if (seen.has(name) && entry.type !== 'Directory') {
      problems.push({ path: entry.path, problem: 'appears twice (the later copy would win)', unsafe: false });
    }
    seen.add(name);
  }
  const master = entries.filter((e) => entryName(e.path) === 'master.sh').at(-1);
  if (!master)
    problems.push({ path: 'master.sh', problem: 'is missing at the root of the sandbox', unsafe: false });
  else if (master.type !== 'File' && master.type !== 'OldFile')
    problems.push({ path: master.path, problem: `is a ${master.type}, not a plain file`, unsafe: false });
  else if ((master.mode & 0o100) === 0)
    problems.push({
      path: master.path,
      problem: `is not executable (mode ${(master.mode & 0o777).toString(8)})`,
      unsafe: false,
    });
  return problems;
}

/** Reads the headers of a .tar or .tar.gz (no extraction). A damaged archive is E_SANDBOX naming the file. */
export async function listSandbox(file: string): Promise<SandboxEntry[]> {
  const entries: SandboxEntry[] = [];
  try {
    await tar.list({
      file,
      strict: true,
      onReadEntry: (e) => {
        entries.push({
          path: e.path,
          type: e.type,
          mode: e.mode ?? 0,
          size: e.size ?? 0,
          ...(e.linkpath ? { linkpath: e.linkpath } : {}),
          ...(e.uid !== undefined ? { uid: e.uid } : {}),
          ...(e.gid !== undefined ? { gid: e.gid } : {}),
          ...(e.mtime ? { mtime: Math.floor(e.mtime.getTime() / 1000) } : {}),
        });
        e.resume();
      },
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new LrtError('E_NOT_FOUND', `${file}: no such sandbox file`, { cause: err });
    throw new LrtError('E_SANDBOX', `${file} is not a readable tar archive: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  if (entries.length === 0)
    throw new LrtError('E_SANDBOX', `${file} is not a tar archive or holds no entries`);
  return entries;
}

export interface SandboxInspection {
  file: string;
  bytes: number;
  sha256: string;
  entries: SandboxEntry[];
  problems: EntryProblem[];
  ok: boolean;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Lists and checks a sandbox tarball. Never throws for problems: they are in the result. */
export async function inspectSandbox(file: string): Promise<SandboxInspection> {
  const entries = await listSandbox(file);
  const problems = sandboxProblems(entries);
  const { size } = await stat(file);
  return { file, bytes: size, sha256: await sha256File(file), entries, problems, ok: problems.length === 0 };
}

/** `-rwxr-xr-x` style, as `tar tv` prints. */
export function modeString(entry: SandboxEntry): string {
  const kind =
    entry.type === 'Directory'
      ? 'd'
      : entry.type === 'SymbolicLink'
        ? 'l'
        : entry.type === 'Link'
          ? 'h'
          : '-';
  const bits = 'rwxrwxrwx'
    .split('')
    .map((c, i) => ((entry.mode >> (8 - i)) & 1 ? c : '-'))
    .join('');
  return kind + bits;
}
