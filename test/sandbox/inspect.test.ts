import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { entryProblem, inspectSandbox, sandboxProblems } from '../../src/sandbox/inspect';
import { lrt } from '../helpers/cli';

const scratch = mkdtempSync(join(tmpdir(), 'lrt-inspect-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * Writes a tarball with Python's tarfile (independent of the code under test), one entry per
 * spec: [name, type, extra] where type is file|exe|dir|symlink|hardlink|fifo|chr|setuid.
 */
async function pythonTar(name: string, entries: [string, string, string?][], gzip = true): Promise<string> {
  const path = join(scratch, name);
  const script = `
import io, sys, tarfile, json
entries = json.loads(sys.argv[2])
with tarfile.open(sys.argv[1], 'w:gz' if sys.argv[3] == '1' else 'w') as tar:
    for name, kind, extra in entries:
        info = tarfile.TarInfo(name)
        data = b''
        if kind in ('file', 'exe', 'setuid'):
            data = (extra or 'x').encode()
            info.size = len(data)
            info.mode = {'file': 0o644, 'exe': 0o755, 'setuid': 0o4755}[kind]
        elif kind == 'dir':
            info.type = tarfile.DIRTYPE; info.mode = 0o755
        elif kind == 'symlink':
            info.type = tarfile.SYMTYPE; info.linkname = extra
        elif kind == 'hardlink':
            info.type = tarfile.LNKTYPE; info.linkname = extra
        elif kind == 'fifo':
            info.type = tarfile.FIFOTYPE
        elif kind == 'chr':
            info.type = tarfile.CHRTYPE; info.devmajor = 1; info.devminor = 3
        tar.addfile(info, io.BytesIO(data) if data else None)
`;
  await execa('python3', [
    '-c',
    script,
    path,
    JSON.stringify(entries.map(([n, k, e]) => [n, k, e ?? null])),
    gzip ? '1' : '0',
  ]);
  return path;
}

describe('sandbox inspect', () => {
  it('accepts a sandbox made by GNU tar from a folder (./ prefixes), listing every entry', async () => {
    const folder = join(scratch, 'gnu');
    mkdirSync(join(folder, 'bin'), { recursive: true });
    writeFileSync(join(folder, 'master.sh'), '#!/bin/sh\necho hi\n');
    chmodSync(join(folder, 'master.sh'), 0o755);
    writeFileSync(join(folder, 'bin', 'tool'), 'x');
    const file = join(scratch, 'gnu.tar.gz');
    await execa('tar', ['-czf', file, '-C', folder, '.']);
    const report = await inspectSandbox(file);
    expect(report.problems).toEqual([]);
    expect(report.entries.map((e) => e.path).sort()).toEqual(['./', './bin/', './bin/tool', './master.sh']);

    const res = await lrt(['sandbox', 'inspect', file]);
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toMatch(/^-rwxr-xr-x +\d+ \.\/master\.sh$/m);
  });

  it('reports every unsafe entry and exits 7', async () => {
    const file = await pythonTar('evil.tar.gz', [
      ['master.sh', 'exe', '#!/bin/sh\n'],
      ['../escape.sh', 'file'],
      ['/etc/cron.d/x', 'file'],
      ['bin/passwd', 'symlink', '/etc/passwd'],
      ['bin/up', 'symlink', '../../outside'],
      ['bin/ok', 'symlink', '../master.sh'],
      ['hard', 'hardlink', '../../etc/shadow'],
      ['pipe', 'fifo'],
      ['null', 'chr'],
      ['bin/su', 'setuid'],
    ]);
    const report = await inspectSandbox(file);
    const flagged = report.problems.filter((p) => p.unsafe).map((p) => p.path);
    expect(flagged.sort()).toEqual(
      ['../escape.sh', '/etc/cron.d/x', 'bin/passwd', 'bin/up', 'hard', 'pipe', 'null', 'bin/su'].sort(),
    );
    expect(report.ok).toBe(false);

    const res = await lrt(['sandbox', 'inspect', file, '--json']);
    expect(res.exitCode).toBe(7);
    const json = JSON.parse(res.stdout);
    expect(json.ok).toBe(false);
    expect(json.problems).toHaveLength(8);
    expect(res.stderr).toContain('unsafe: /etc/cron.d/x');
  });

  it('requires master.sh at the root as an executable file', async () => {
    const missing = await pythonTar('nomaster.tar', [['bin/master.sh', 'exe']], false);
    expect((await inspectSandbox(missing)).problems).toEqual([
      { path: 'master.sh', problem: 'is missing at the root of the sandbox', unsafe: false },
    ]);
    const notExe = await pythonTar('noexe.tar.gz', [['master.sh', 'file']]);
    const problems = (await inspectSandbox(notExe)).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]!.problem).toContain('not executable (mode 644)');
    const res = await lrt(['sandbox', 'inspect', notExe]);
    expect(res.exitCode).toBe(1);
  });

  it('says what is wrong with a file that is not a tarball', async () => {
    const file = join(scratch, 'junk.tar.gz');
    writeFileSync(file, 'this is not a tar archive at all\n'.repeat(40));
    const res = await lrt(['sandbox', 'inspect', file]);
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toContain(file);
    const gone = await lrt(['sandbox', 'inspect', join(scratch, 'absent.tar.gz')]);
    expect(gone.exitCode).toBe(5);
  });

  it('judges entries by their header alone (pure)', () => {
    const base = { type: 'File', mode: 0o644, size: 1 };
    expect(entryProblem({ ...base, path: 'a/../../b' })?.unsafe).toBe(true);
    expect(entryProblem({ ...base, path: 'a/..b' })).toBeUndefined();
    expect(entryProblem({ ...base, path: 'C:\\x' })?.unsafe).toBe(true);
    expect(entryProblem({ ...base, path: 'a/b', type: 'SymbolicLink', linkpath: '../c' })).toBeUndefined();
    expect(entryProblem({ ...base, path: 'a/b', type: 'SymbolicLink', linkpath: '../../c' })?.unsafe).toBe(
      true,
    );
    const twice = sandboxProblems([
      { ...base, path: 'master.sh', mode: 0o755 },
      { ...base, path: './master.sh', mode: 0o644 },
    ]);
    expect(twice.map((p) => p.problem)).toEqual([
      'appears twice (the later copy would win)',
      'is not executable (mode 644)',
    ]);
  });
});
