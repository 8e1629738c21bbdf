import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sandboxEntries, writeReproducibleTarGz } from '../sandbox/build';
import { DEMO_MASTER_SH } from './masterScript';

const BIN_README = 'Setup and teardown scripts of the demo sandbox go here.\n';

/**
 * Writes the demo sandbox (master.sh + bin/) as a reproducible .tar.gz into `outDir` and
 * returns its path. `masterScript` replaces the demo's master.sh (tests use their own payloads).
 */
export async function writeDemoSandbox(
  outDir: string,
  masterScript: string = DEMO_MASTER_SH,
): Promise<string> {
  const staging = await mkdtemp(join(tmpdir(), 'lrt-demo-sbx-'));
  try {
    await writeFile(join(staging, 'master.sh'), masterScript);
    await chmod(join(staging, 'master.sh'), 0o755);
    await mkdir(join(staging, 'bin'));
    await writeFile(join(staging, 'bin', 'README'), BIN_README);
    await mkdir(outDir, { recursive: true });
    const file = join(outDir, 'demo-sandbox.tar.gz');
    await writeReproducibleTarGz(staging, await sandboxEntries(staging), file);
    return file;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
