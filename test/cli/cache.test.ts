import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core';
import { pullContainer } from '../../src/pilot/containerStep';
import { prepareSandbox } from '../../src/sandbox';
import { lrt } from '../helpers/cli';
import { writeTar } from '../helpers/tarFixtures';

let dir: string;
let cacheDir: string;
let url: string;
let archive: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lrt-cache-cli-'));
  cacheDir = join(dir, 'cache');
  archive = join(dir, 'sandbox.tar');
  url = pathToFileURL(archive).toString();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const master = (text: string) => ({ path: 'master.sh', body: `#!/bin/bash\necho ${text}\n`, mode: 0o755 });

async function cacheVersion(text: string, job: string) {
  await writeTar(archive, [master(text)]);
  return prepareSandbox({ source: { kind: 'tarball', url }, cacheDir, jobDir: join(dir, job) });
}

async function list() {
  const res = await lrt(['cache', 'list', '--cache', cacheDir, '--json']);
  expect(res.exitCode).toBe(0);
  return JSON.parse(res.stdout) as {
    entries: {
      kind: string;
      key: string;
      source: string;
      superseded: boolean;
      locked: boolean;
      bytes: number;
    }[];
  };
}

describe('lrt cache list|clean', () => {
  it('lists each version of a sandbox; a replaced one is superseded and clean removes only it', async () => {
    const old = await cacheVersion('one', 'j1');
    await new Promise((r) => setTimeout(r, 5)); // entries are ordered by their creation time
    const current = await cacheVersion('two', 'j2');
    const before = await list();
    expect(before.entries.map((e) => [e.key, e.superseded])).toEqual([
      [old.key, true],
      [current.key, false],
    ]);
    expect(before.entries[0]!.source).toBe(url);
    expect(before.entries[0]!.bytes).toBeGreaterThan(0);
    const text = await lrt(['cache', 'list', '--cache', cacheDir]);
    expect(text.stdout).toContain(`${old.key.slice(0, 12)}`);
    expect(text.stdout).toContain('(superseded)');

    const dry = await lrt(['cache', 'clean', '--cache', cacheDir, '--dry-run', '--json']);
    expect(JSON.parse(dry.stdout).removed.map((e: { key: string }) => e.key)).toEqual([old.key]);
    expect(existsSync(join(cacheDir, old.key))).toBe(true);

    // A builder that died long ago left a work dir behind.
    const leftover = join(cacheDir, '.tmp-0123456789abcdef-x');
    await mkdir(leftover);
    const longAgo = new Date(Date.now() - 24 * 3600_000);
    await utimes(leftover, longAgo, longAgo);
    const clean = await lrt(['cache', 'clean', '--cache', cacheDir, '--json']);
    expect(clean.exitCode).toBe(0);
    const out = JSON.parse(clean.stdout);
    expect(out.removed.map((e: { key: string }) => e.key)).toEqual([old.key]);
    expect(out.leftovers).toEqual(['.tmp-0123456789abcdef-x']);
    expect((await list()).entries.map((e) => e.key)).toEqual([current.key]);
    expect(await readdir(cacheDir)).toEqual([current.key]);
  });

  it('--all spares an entry whose lock a live builder holds; --older-than is checked', async () => {
    const current = (await list()).entries[0]!;
    const lock = join(cacheDir, `${current.key}.lock`);
    await writeFile(
      lock,
      JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'n', created: Date.now() }),
    );
    const spared = await lrt(['cache', 'clean', '--cache', cacheDir, '--all', '--json']);
    expect(JSON.parse(spared.stdout).removed).toEqual([]);
    await rm(lock);
    const all = await lrt(['cache', 'clean', '--cache', cacheDir, '--all']);
    expect(all.stdout).toContain('removed 1 entry');
    expect((await list()).entries).toEqual([]);
    const bad = await lrt(['cache', 'clean', '--cache', cacheDir, '--older-than', 'soon']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--older-than must be a number of days');
  });

  it('container images: a replaced image file is superseded; clean removes its entry and its file', async () => {
    const image = join(dir, 'lofar.sif');
    const pull = async (bytes: string) => {
      await writeFile(image, bytes);
      const ctx = { signal: new AbortController().signal, logger: silentLogger(), report: () => undefined };
      return pullContainer({ simg: image }, { cacheDir, mirror: 'https://unused', transfer: {} }, ctx);
    };
    const old = await pull('image one');
    await new Promise((r) => setTimeout(r, 5));
    const current = await pull('image two');
    const images = (await list()).entries.filter((e) => e.kind === 'image');
    expect(images.map((e) => [e.superseded, e.bytes])).toEqual([
      [true, 9],
      [false, 9],
    ]);
    const clean = await lrt(['cache', 'clean', '--cache', cacheDir, '--json']);
    const out = JSON.parse(clean.stdout);
    expect(out.removed).toHaveLength(1);
    expect(out.images).toEqual([`images/sha256/${old.sha256}.sif`]);
    expect(existsSync(old.path)).toBe(false);
    expect(existsSync(current.path)).toBe(true);
    expect((await list()).entries.filter((e) => e.kind === 'image')).toHaveLength(1);
  });

  it('an absent cache lists as empty', async () => {
    const res = await lrt(['cache', 'list', '--cache', join(dir, 'none'), '--json']);
    expect(JSON.parse(res.stdout).entries).toEqual([]);
  });
});
