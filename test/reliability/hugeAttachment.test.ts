import { createHash, randomBytes } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { getAttachment } from '../../src/picas/attachments';
import { logAttachmentName } from '../../src/picas/logNames';
import type { TokenErrorEntry } from '../../src/picas/protocol';
import { lrt } from '../helpers/cli';
import { createPilotWorld } from '../helpers/pilotWorld';

const MiB = 1024 * 1024;
/*
 * On a single server 64 MiB: big enough that holding it in memory shows in the pilot's peak RSS,
 * small enough for CI. The cluster stand-in keeps its three replicas and their replication in this
 * one process, in memory: 64 MiB becomes nine copies pushed through one thread and the attach
 * outlasts the 60 s reply limit. There 8 MiB carries the bytes through a cluster's attach, claim
 * and download, and the memory bound is left to the single server (8 MiB is within the garbage
 * of streaming itself).
 */
const onCluster = inject('couchKind') === 'cluster';
const HUGE = (onCluster ? 8 : 64) * MiB;

/** Reports the attachment's checksum and size, and the pilot's peak memory so far (its parent). */
const MASTER = `#!/usr/bin/env bash
set -e
echo "sha256 $(sha256sum "$BIG" | cut -d' ' -f1)"
echo "size $(stat -c %s "$BIG")"
echo "pilot $(grep VmHWM /proc/$PPID/status)"
`;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** VmHWM of the pilot in bytes, from the payload's stdout. */
function peakRss(stdout: string): number {
  const kb = /pilot VmHWM:\s+(\d+) kB/.exec(stdout)?.[1];
  if (!kb) throw new Error(`no VmHWM in ${stdout}`);
  return Number(kb) * 1024;
}

describe('a huge attachment', () => {
  let cleanup: (() => Promise<void>) | undefined;
  // 64 MiB in the database and three copies on disk: not left behind for the rest of the run
  afterEach(async () => {
    await cleanup?.();
  });

  it('goes in with lrt tokens attach, reaches the payload byte for byte, streamed (pilot memory does not grow with it), and comes out again', async () => {
    const world = await createPilotWorld({ type: 'huge', tokens: [], masterScript: MASTER });
    cleanup = async () => {
      await world.db.drop();
      await rm(world.dir, { recursive: true, force: true });
    };
    const env = world.env;
    const config = JSON.stringify({ variables: { _attachments: { $BIG: 'big.bin' } } });
    for (const suffix of ['small', 'big']) {
      const made = await lrt(
        [
          'tokens',
          'create',
          '--type',
          'huge',
          '--id-suffix',
          suffix,
          '--set',
          `config.json=${config}`,
          '--set',
          `SBXloc=${world.sandboxUrl}`,
        ],
        { env },
      );
      expect(made.exitCode, made.stderr).toBe(0);
    }
    // random bytes: not UTF-8, not compressible, every byte value
    const big = randomBytes(HUGE);
    const small = randomBytes(1024);
    await writeFile(join(world.dir, 'big.bin'), big);
    await writeFile(join(world.dir, 'small.bin'), small);
    for (const [id, file] of [
      ['t_huge_big', 'big.bin'],
      ['t_huge_small', 'small.bin'],
    ]) {
      const attached = await lrt(['tokens', 'attach', id!, join(world.dir, file!), '--name', 'big.bin'], {
        env,
      });
      expect(attached.exitCode, attached.stderr).toBe(0);
    }

    // one pilot per token, so each peak belongs to one download
    for (const id of ['t_huge_small', 't_huge_big']) {
      const run = await world.startPilot(['--token', id]);
      expect(run.exitCode, run.all).toBe(0);
      expect(
        (await world.token(id)).status,
        JSON.stringify((await world.token(id)).error as TokenErrorEntry[]),
      ).toBe('done');
    }
    const out = async (id: string) =>
      (await getAttachment(world.picas, id, logAttachmentName(1, 'stdout'))).toString();
    const bigOut = await out('t_huge_big');
    expect(bigOut).toContain(`sha256 ${sha256(big)}`);
    expect(bigOut).toContain(`size ${HUGE}`);
    expect(await out('t_huge_small')).toContain(`sha256 ${sha256(small)}`);
    // Held whole, the attachment alone adds HUGE to the pilot's peak. Streamed, only the garbage
    // of the passing chunks does (a plain 64 MiB file copy in node: about +35 MiB before GC).
    const grown = peakRss(bigOut) - peakRss(await out('t_huge_small'));
    if (!onCluster) {
      expect(grown, `the pilot's peak RSS grew by ${Math.round(grown / MiB)} MiB`).toBeLessThan(HUGE);
    }

    const back = join(world.dir, 'back.bin');
    const fetched = await lrt(['tokens', 'get-attachment', 't_huge_big', 'big.bin', '-o', back], { env });
    expect(fetched.exitCode, fetched.stderr).toBe(0);
    expect((await stat(back)).size).toBe(HUGE);
    expect(sha256(await readFile(back))).toBe(sha256(big));
  }, 180_000);
});
