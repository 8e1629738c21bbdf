import { describe, expect, it } from 'vitest';
import { EntryVetter, entrySegments, type TarEntryInfo } from '../../src/sandbox/entryRules';

const file = (path: string, size = 1): TarEntryInfo => ({ path, type: 'File', size });
const dir = (path: string): TarEntryInfo => ({ path, type: 'Directory', size: 0 });
const symlink = (path: string, linkpath: string): TarEntryInfo => ({
  path,
  type: 'SymbolicLink',
  linkpath,
  size: 0,
});
const hardlink = (path: string, linkpath: string): TarEntryInfo => ({
  path,
  type: 'Link',
  linkpath,
  size: 0,
});

/** Runs the vetter over a whole listing: the first refusal, or undefined. */
function vet(entries: TarEntryInfo[], limits = {}) {
  const vetter = new EntryVetter(limits);
  for (const entry of entries) {
    const unsafe = vetter.add(entry);
    if (unsafe) return unsafe;
  }
  return vetter.finish();
}

describe('entrySegments', () => {
  it('drops ./ and empty segments, refuses absolute (POSIX or Windows) and ..', () => {
    expect(entrySegments('./bin//setup.sh')).toEqual(['bin', 'setup.sh']);
    expect(entrySegments('./')).toEqual([]);
    expect(entrySegments('/etc/passwd')).toBe('absolute path');
    expect(entrySegments('C:\\evil')).toBe('absolute path');
    expect(entrySegments('\\\\server\\share\\x')).toBe('absolute path');
    expect(entrySegments('a\\..\\..\\x')).toBe("path contains '..'");
    expect(entrySegments('a/..b/c')).toEqual(['a', '..b', 'c']);
  });
});

describe('EntryVetter', () => {
  it('accepts a normal sandbox with links that stay inside', () => {
    const entries = [
      dir('./'),
      file('./master.sh'),
      dir('./bin/'),
      file('./bin/setup.sh'),
      symlink('./latest', 'bin'),
      symlink('./bin/up', '../master.sh'),
      symlink('./bin/self', '.'),
      hardlink('./copy.sh', './master.sh'),
    ];
    expect(vet(entries)).toBeUndefined();
  });

  it('judges links by the final archive: a link defined later can make an earlier one escape', () => {
    const unsafe = vet([dir('a/'), symlink('a/m', 'l/..'), symlink('a/l', '..')]);
    expect(unsafe).toEqual({ path: 'a/m', reason: "symbolic link to 'l/..' points outside the sandbox" });
  });

  it('resolves links through other links (chains across directories)', () => {
    expect(vet([symlink('deep', 'd1/d2'), dir('d1/d2/'), symlink('x', 'deep/../../..')])).toMatchObject({
      path: 'x',
    });
    // d1/d2/.. is d1: inside.
    expect(vet([dir('d1/d2/'), symlink('deep', 'd1/d2'), symlink('y', 'deep/..')])).toBeUndefined();
  });

  it('refuses hard links whose target goes through a symlink', () => {
    expect(vet([dir('sub/'), file('sub/f'), symlink('l', 'sub'), hardlink('h', 'l/f')])).toEqual({
      path: 'h',
      reason: "hard link target goes through symbolic link 'l'",
    });
  });

  it('refuses a non-directory entry for the root and unknown types', () => {
    expect(vet([file('./')])?.reason).toBe('entry would replace the sandbox root');
    expect(vet([{ path: 'x', type: 'GNUDumpDir', size: 0 }])?.reason).toBe(
      'unsupported entry type GNUDumpDir',
    );
  });

  it('limits: exactly maxEntries / maxBytes pass, one more is refused', () => {
    const three = [file('a', 10), file('b', 10), file('c', 10)];
    expect(vet(three, { maxEntries: 3, maxBytes: 30 })).toBeUndefined();
    expect(vet(three, { maxEntries: 2 })?.path).toBe('c');
    expect(vet(three, { maxBytes: 29 })?.path).toBe('c');
  });
});
