// Bundles the two entry points with esbuild.
// - dist/pilot.js: everything inlined, runs with plain `node` on a worker node without node_modules.
// - dist/lrt.js: the login-node CLI; the embedded CouchDB server (express-pouchdb, native LevelDB)
//   stays external and is loaded from the installed package's node_modules.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'cjs',
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
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
