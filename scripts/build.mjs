// Bundles the two entry points with esbuild.
// - dist/pilot.js: everything inlined, runs with plain `node` on a worker node without node_modules.
// - dist/lrt.js: the login-node CLI; the embedded CouchDB server (express-pouchdb, native LevelDB)
//   stays external and is loaded from the installed package's node_modules.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

// `lrt --version`, `pilot --version` and the pilot's start line (src/core/version.ts).
function buildVersion() {
  const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
    return commit ? `${version} (${commit})` : version;
  } catch {
    return version;
  }
}

const common = {
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'cjs',
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  define: { LRT_BUILD_VERSION: JSON.stringify(buildVersion()) },
};

const serverPackages = [
  'express',
  'express-pouchdb',
  'pouchdb-core',
  'pouchdb-adapter-memory',
  'pouchdb-adapter-leveldb',
  'pouchdb-abstract-mapreduce',
  'pouchdb-mapreduce-utils',
  'pouchdb-replication',
];

mkdirSync('dist', { recursive: true });
// dist/*.js are CommonJS even inside a package that later turns to ESM.
writeFileSync('dist/package.json', '{ "type": "commonjs" }\n');

const entries = [
  { in: 'src/cli/lrt.ts', out: 'dist/lrt.js', external: serverPackages, banner: '#!/usr/bin/env node' },
  { in: 'src/pilot/main.ts', out: 'dist/pilot.js', external: [], banner: '#!/usr/bin/env node' },
];

for (const entry of entries) {
  if (!existsSync(entry.in)) continue;
  await build({
    ...common,
    entryPoints: [entry.in],
    outfile: entry.out,
    external: entry.external,
    banner: { js: entry.banner },
  });
}
