import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adler32File, gsiftpMover, type TransferOptions } from '../../src/transfer';
import { failure } from '../helpers/errors';
import { type GridftpTestbed, gridftpTestbed, gridftpWorkDir } from '../helpers/gridftp';
import { zlibAdler32 } from './reference';

const testbed = gridftpTestbed();

describe.skipIf(!testbed)('gsiftp mover against the GSI GridFTP test bed', () => {
  const bed = testbed as GridftpTestbed;
  let local: string;
  let remote: { path: string; url: string };
  let data: Buffer;
  let opts: TransferOptions;

  beforeAll(async () => {
    local = await mkdtemp(join(tmpdir(), 'lrt-gsiftp-local-'));
    remote = await gridftpWorkDir(bed);
    data = randomBytes(3 * 1024 * 1024 + 123);
    await writeFile(join(local, 'src.bin'), data);
    opts = { proxy: bed.proxy, certDir: bed.certDir, gfalPython: bed.gfalPython };
  });
  afterAll(async () => {
    await rm(local, { recursive: true, force: true });
    await rm(remote.path, { recursive: true, force: true });
  });

  it('uploads and downloads with a real proxy, byte for byte', async () => {
    const put = await gsiftpMover.put(join(local, 'src.bin'), `${remote.url}/up.bin`, opts);
    expect(put.bytes).toBe(data.length);
    expect((await readFile(join(remote.path, 'up.bin'))).equals(data)).toBe(true);

    const dest = join(local, 'down', 'nested', 'got.bin');
    const got = await gsiftpMover.fetch(`${remote.url}/up.bin`, dest, { ...opts, parallel: 4 });
    expect(got.bytes).toBe(data.length);
    expect((await readFile(dest)).equals(data)).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('creates missing remote directories only when asked', async () => {
    const deep = `${remote.url}/a/b/c/file.bin`;
    const err = await failure(gsiftpMover.put(join(local, 'src.bin'), deep, opts));
    expect(err.code).toBe('E_TRANSFER');
    expect(err.message).toContain(deep);
    expect(err.message).toMatch(/destination directory does not exist/);

    await gsiftpMover.put(join(local, 'src.bin'), deep, { ...opts, createDirs: true, restartRetries: 2 });
    expect((await readFile(join(remote.path, 'a/b/c/file.bin'))).equals(data)).toBe(true);
  });

  it('refuses an expired proxy with E_TRANSFER_AUTH and says why', async () => {
    const url = `${remote.url}/up-expired.bin`;
    const err = await failure(
      gsiftpMover.put(join(local, 'src.bin'), url, { ...opts, proxy: bed.expiredProxy }),
    );
    expect(err.code).toBe('E_TRANSFER_AUTH');
    expect(err.message).toContain(url);
    expect(err.message).toMatch(/the proxy has expired/);
    expect(err.message).toMatch(/Credential with subject: .*Lrt Test User.* has expired/);
    expect(existsSync(join(remote.path, 'up-expired.bin'))).toBe(false);
  });

  it('refuses an unmapped DN with E_TRANSFER_AUTH (530) naming the DN', async () => {
    const dest = join(local, 'unmapped.bin');
    await writeFile(join(remote.path, 'exists.bin'), data);
    const err = await failure(
      gsiftpMover.fetch(`${remote.url}/exists.bin`, dest, { ...opts, proxy: bed.unmappedProxy }),
    );
    expect(err.code).toBe('E_TRANSFER_AUTH');
    expect(err.message).toMatch(/does not map this certificate DN/);
    expect(err.message).toMatch(/530/);
    expect(err.message).toMatch(/Could not map .*Unmapped User/);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('reports a missing source as E_NOT_FOUND and leaves no file behind', async () => {
    const url = `${remote.url}/no-such-file.bin`;
    const dest = join(local, 'missing.bin');
    const err = await failure(gsiftpMover.fetch(url, dest, opts));
    expect(err.code).toBe('E_NOT_FOUND');
    expect(err.message).toContain(url);
    expect(err.message).toMatch(/No such file or directory/);
    // globus-url-copy creates its destination even when the source is missing.
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);

    const missingLocal = await failure(gsiftpMover.put(join(local, 'nope.bin'), `${remote.url}/x`, opts));
    expect(missingLocal.code).toBe('E_NOT_FOUND');
    expect(missingLocal.message).toContain(join(local, 'nope.bin'));
  });

  it('gives E_TRANSFER for a refused connection', async () => {
    const err = await failure(gsiftpMover.fetch('gsiftp://127.0.0.1:1/tmp/x', join(local, 'refused'), opts));
    expect(err.code).toBe('E_TRANSFER');
    expect(err.message).toMatch(/cannot connect to the server.*Connection refused/);
  });

  it('stats files and directories through gfal, E_NOT_FOUND for a missing one', async () => {
    await writeFile(join(remote.path, 'stat.bin'), data);
    await mkdir(join(remote.path, 'statdir'));
    expect(await gsiftpMover.stat(`${remote.url}/stat.bin`, opts)).toMatchObject({
      size: data.length,
      isDirectory: false,
    });
    expect(await gsiftpMover.stat(`${remote.url}/statdir`, opts)).toMatchObject({ isDirectory: true });
    const err = await failure(gsiftpMover.stat(`${remote.url}/nope`, opts));
    expect(err.code).toBe('E_NOT_FOUND');
  });

  it("reads the server-side adler32 (gfal-sum), which equals ours and zlib's", async () => {
    const path = join(remote.path, 'sum.bin');
    await writeFile(path, data);
    const remoteSum = await gsiftpMover.checksum!(`${remote.url}/sum.bin`, 'adler32', opts);
    expect(remoteSum).toBe(await zlibAdler32(path));
    expect(await adler32File(path)).toBe(remoteSum);

    const dest = join(local, 'sum-down.bin');
    const got = await gsiftpMover.fetch(`${remote.url}/sum.bin`, dest, {
      ...opts,
      expectedAdler32: remoteSum,
    });
    expect(got.adler32).toBe(remoteSum);

    const bad = await failure(
      gsiftpMover.fetch(`${remote.url}/sum.bin`, join(local, 'bad.bin'), {
        ...opts,
        expectedAdler32: '00000001',
      }),
    );
    expect(bad.code).toBe('E_CHECKSUM');
    expect(existsSync(join(local, 'bad.bin'))).toBe(false);
    expect(existsSync(join(local, 'bad.bin.part'))).toBe(false);
  });

  it('names the Debian package when globus-url-copy is missing', async () => {
    const err = await failure(
      gsiftpMover.fetch(`${remote.url}/up.bin`, join(local, 'tool.bin'), {
        ...opts,
        tools: { 'globus-url-copy': '/nonexistent/bin/globus-url-copy' },
      }),
    );
    expect(err.code).toBe('E_TOOL_MISSING');
    expect(err.message).toContain('globus-gass-copy-progs');
  });

  it('stops a transfer that hangs when the signal aborts, and on a stall timeout', async () => {
    // A FIFO nobody writes to: the server blocks opening it, so no byte ever moves.
    const fifo = join(remote.path, 'stuck.fifo');
    await execa('mkfifo', [fifo]);
    try {
      const controller = new AbortController();
      const reason = new Error('pilot is shutting down');
      setTimeout(() => controller.abort(reason), 500);
      const started = Date.now();
      const aborted = await gsiftpMover
        .fetch(`${remote.url}/stuck.fifo`, join(local, 'stuck.bin'), { ...opts, signal: controller.signal })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(aborted).toBe(reason);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(existsSync(join(local, 'stuck.bin.part'))).toBe(false);

      const stalled = await failure(
        gsiftpMover.fetch(`${remote.url}/stuck.fifo`, join(local, 'stall.bin'), {
          ...opts,
          stallTimeoutSeconds: 2,
        }),
      );
      expect(stalled.code).toBe('E_TRANSFER');
      expect(stalled.message).toMatch(/stall timeout/);
    } finally {
      // Release the blocked server sessions: open the FIFO for writing once.
      await execa('bash', ['-c', `exec 3<>"$1"; exec 3>&-`, '_', fifo]).catch(() => undefined);
    }
  });
});
