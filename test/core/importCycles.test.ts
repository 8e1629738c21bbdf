import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importCycles } from '../helpers/importCycles';

/*
 * No module of src/ imports itself through others, type-only imports included: a cycle means two
 * files share something that belongs in a third (docs/architecture.md, "Modules").
 */

const SRC = resolve(__dirname, '../../src');
const IMPORT = /^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The src/ files a file imports (relative specifiers only). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].flatMap(([, spec]) => {
    if (!spec!.startsWith('.')) return [];
    const base = resolve(dirname(file), spec!);
    const found = [`${base}.ts`, join(base, 'index.ts')].find((path) => existsSync(path));
    return found ? [found] : [];
  });
}

describe('import cycles', () => {
  it('finds a cycle when there is one (the check can fail)', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    expect(importCycles(graph)).toEqual([['a', 'b', 'c']]);
  });

  it('src/ has none', () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(100);
    const graph = new Map(files.map((file) => [file, importsOf(file)]));
    const cycles = importCycles(graph).map((group) => group.map((file) => relative(SRC, file)));
    expect(cycles).toEqual([]);
  });
});
