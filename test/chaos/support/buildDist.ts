import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

/** The chaos suite runs the built pilot and CLI: build them first, so a stale dist is never tested. */
export default function setup() {
  execFileSync('node', ['scripts/build.mjs'], { cwd: resolve(__dirname, '../../..'), stdio: 'inherit' });
}
