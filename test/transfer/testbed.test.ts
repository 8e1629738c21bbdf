import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import {
  GRIDFTP_TESTBED_SCRIPT,
  type GridftpTestbed,
  gridftpTestbed,
  parseExportLines,
} from '../helpers/gridftp';

const testbed = gridftpTestbed();

describe('scripts/gridftp-testbed.sh', () => {
  it('reads the export lines it prints, quotes included', () => {
    expect(parseExportLines("export A='/x y'\nexport B='it'\\''s'\nnoise\n")).toEqual({
      A: '/x y',
      B: "it's",
    });
  });

  it('reports a stopped test bed (exit 3) and refuses env for it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lrt-gridftp-empty-'));
    try {
      const env = { GRIDFTP_TESTBED_DIR: dir };
      const status = await execa('bash', [GRIDFTP_TESTBED_SCRIPT, 'status'], { env, reject: false });
      expect(status.exitCode).toBe(3);
      const printed = await execa('bash', [GRIDFTP_TESTBED_SCRIPT, 'env'], { env, reject: false });
      expect(printed.exitCode).toBe(1);
      expect(printed.stderr).toMatch(/not running/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe.skipIf(!testbed)('the running test bed', () => {
    const bed = testbed as GridftpTestbed;

    it('is running and gives a valid proxy, an expired one and an unmapped one', async () => {
      const status = await execa('bash', [GRIDFTP_TESTBED_SCRIPT, 'status'], {
        env: { GRIDFTP_TESTBED_DIR: bed.dir },
      });
      expect(status.stdout).toContain(`gsiftp://127.0.0.1:${bed.port}`);
      const info = (file: string) =>
        execa('grid-proxy-info', ['-file', file, '-exists', '-valid', '1:00'], { reject: false });
      expect((await info(bed.proxy)).exitCode).toBe(0);
      expect((await info(bed.unmappedProxy)).exitCode).toBe(0);
      expect((await info(bed.expiredProxy)).exitCode).not.toBe(0);
      const subject = (file: string) => execa('grid-proxy-info', ['-file', file, '-identity']);
      expect((await subject(bed.proxy)).stdout).not.toBe((await subject(bed.unmappedProxy)).stdout);
    });
  });
});
