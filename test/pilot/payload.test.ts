import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isLrtError } from '../../src/core';
import { type PayloadOptions, runPayload, tailFile } from '../../src/pilot/payload';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A job dir holding `master.sh` with the given body. */
function job(body: string | undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'lrt-payload-'));
  dirs.push(dir);
  if (body !== undefined) writeFileSync(join(dir, 'master.sh'), `#!/bin/bash\n${body}\n`);
  const statusFile = join(dir, 'pipeline_status');
  const options: PayloadOptions = {
    command: ['bash', 'master.sh'],
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PILOT_STATUS_FILE: statusFile },
    stdoutFile: join(dir, 'stdout.log'),
    stderrFile: join(dir, 'stderr.log'),
    statusFile,
    graceMs: 5000,
    statusPollMs: 50,
  };
  return { dir, options };
}

/** Dead: gone, or a zombie nobody reaps (PID 1 of some containers never reaps orphans). */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** Aborts the run once the payload reports `ready` on its status file: no sleeping on our side. */
function abortWhenReady(controller: AbortController, onReady?: () => void) {
  return (line: string) => {
    if (line !== 'ready') return;
    onReady?.();
    controller.abort();
  };
}

describe('runPayload: exit codes and output files', () => {
  it.each([0, 3, 99])('reports exit code %i, stdout and stderr land in their files', async (code) => {
    const { dir, options } = job(`echo "out $CODE"; echo "err $CODE" >&2; exit $CODE`);
    const result = await runPayload({ ...options, env: { ...options.env, CODE: String(code) } });
    expect(result).toMatchObject({ exitCode: code, signal: null, reason: 'exited' });
    expect(readFileSync(join(dir, 'stdout.log'), 'utf8')).toBe(`out ${code}\n`);
    expect(readFileSync(join(dir, 'stderr.log'), 'utf8')).toBe(`err ${code}\n`);
    expect(result.stdoutBytes).toBe(`out ${code}\n`.length);
    expect(result.stderrTail).toBe(`err ${code}\n`);
  });

  it('passes exactly the given environment and appends to existing files', async () => {
    process.env.LRT_PILOT_ONLY = 'must-not-leak';
    try {
      const { dir, options } = job('echo "mine=$MINE leak=$' + '{LRT_PILOT_ONLY:-none}"');
      writeFileSync(options.stdoutFile, 'earlier attempt\n');
      const result = await runPayload({ ...options, env: { ...options.env, MINE: 'yes' } });
      const text = readFileSync(join(dir, 'stdout.log'), 'utf8');
      expect(text).toBe('earlier attempt\nmine=yes leak=none\n');
      expect(result.stdoutBytes).toBe('mine=yes leak=none\n'.length);
    } finally {
      delete process.env.LRT_PILOT_ONLY;
    }
  });

  it('streams 50 MB to the file without holding it in the pilot', async () => {
    const size = 50 * 1024 * 1024;
    const { options } = job(`head -c ${size} /dev/zero; echo done >&2`);
    const rssBefore = process.memoryUsage().rss;
    const result = await runPayload(options);
    const growth = process.memoryUsage().rss - rssBefore;
    expect(result.exitCode).toBe(0);
    expect(statSync(options.stdoutFile).size).toBe(size);
    expect(result.stdoutBytes).toBe(size);
    expect(Object.keys(result)).not.toContain('stdout');
    expect(growth).toBeLessThan(size / 2);
  });

  it('runs a master.sh without the exec bit via bash; a missing one is exit 127', async () => {
    const { options } = job('exit 0');
    chmodSync(join(options.cwd, 'master.sh'), 0o644);
    expect((await runPayload(options)).exitCode).toBe(0);

    await expect(runPayload({ ...options, command: ['./master.sh'] })).rejects.toMatchObject({
      code: 'E_PAYLOAD',
      exitCode: 126,
    });
    const empty = job(undefined);
    const err = await runPayload(empty.options).catch((e: unknown) => e);
    expect(isLrtError(err, 'E_PAYLOAD')).toBe(true);
    expect(err).toMatchObject({ exitCode: 127 });
    expect((err as Error).message).toContain('master.sh');
    expect(existsSync(empty.options.stdoutFile)).toBe(false);
  });

  it('an output file that cannot be opened is E_IO naming the file', async () => {
    const { dir, options } = job('exit 0');
    const stdoutFile = join(dir, 'no-such-dir', 'stdout.log');
    const err = await runPayload({ ...options, stdoutFile }).catch((e: unknown) => e);
    expect(isLrtError(err, 'E_IO')).toBe(true);
    expect((err as Error).message).toContain(stdoutFile);
  });

  it('a program that cannot be started is E_PAYLOAD with exit 127', async () => {
    const { options } = job('exit 0');
    await expect(runPayload({ ...options, command: ['lrt-no-such-program-42'] })).rejects.toMatchObject({
      code: 'E_PAYLOAD',
      exitCode: 127,
    });
  });
});

describe('runPayload: status file', () => {
  it('passes each new last status line to onStatus once, and returns the last', async () => {
    // Each status waits for our acknowledgement, so no line can be missed between two polls.
    const { dir, options } = job(
      [
        'ack() { while [ ! -f "ack_$1" ]; do sleep 0.02; done; }',
        'echo downloading > "$PILOT_STATUS_FILE"; ack downloading',
        'printf "running\\n\\n" >> "$PILOT_STATUS_FILE"; ack running',
        'echo running >> "$PILOT_STATUS_FILE"',
        'echo uploading > "$PILOT_STATUS_FILE"; ack uploading',
      ].join('\n'),
    );
    const seen: string[] = [];
    const result = await runPayload({
      ...options,
      onStatus: (line) => {
        seen.push(line);
        writeFileSync(join(dir, `ack_${line}`), '');
      },
    });
    expect(result.exitCode).toBe(0);
    expect(seen).toEqual(['downloading', 'running', 'uploading']);
    expect(result.lastStatus).toBe('uploading');
  });
});

describe('runPayload: termination', () => {
  it('timeout: TERM reaches the whole process group, background grandchild included', async () => {
    const { dir, options } = job(
      'sleep 300 & echo $! > grandchild.pid; echo ready > "$PILOT_STATUS_FILE"; wait',
    );
    let aliveWhileRunning = false;
    const result = await runPayload({
      ...options,
      timeoutMs: 1000,
      onStatus: () => {
        aliveWhileRunning = !gone(Number(readFileSync(join(dir, 'grandchild.pid'), 'utf8')));
      },
    });
    const grandchild = Number(readFileSync(join(dir, 'grandchild.pid'), 'utf8'));
    expect(aliveWhileRunning).toBe(true);
    expect(result).toMatchObject({ reason: 'timeout', signal: 'SIGTERM', exitCode: null });
    expect(gone(grandchild)).toBe(true);
  });

  it('a payload that ignores TERM is KILLed after the grace period', async () => {
    const { options } = job(
      'trap "echo term-ignored >&2" TERM; echo ready > "$PILOT_STATUS_FILE"; while :; do sleep 0.05; done',
    );
    const controller = new AbortController();
    const result = await runPayload({
      ...options,
      graceMs: 300,
      signal: controller.signal,
      onStatus: abortWhenReady(controller),
    });
    expect(result).toMatchObject({ reason: 'aborted', signal: 'SIGKILL', exitCode: null });
    expect(result.stderrTail).toContain('term-ignored');
  });

  it('abort via AbortController stops the payload and its children', async () => {
    const { dir, options } = job(
      'sleep 300 & echo $! > child.pid; echo ready > "$PILOT_STATUS_FILE"; sleep 300',
    );
    const controller = new AbortController();
    const result = await runPayload({
      ...options,
      signal: controller.signal,
      onStatus: abortWhenReady(controller),
    });
    expect(result).toMatchObject({ reason: 'aborted', signal: 'SIGTERM', lastStatus: 'ready' });
    expect(gone(Number(readFileSync(join(dir, 'child.pid'), 'utf8')))).toBe(true);
  });

  it('a deadline in the past ends the run at once: the payload never starts', async () => {
    const { dir, options } = job('touch started; sleep 300');
    const result = await runPayload({ ...options, deadline: Date.now() - 1000 });
    expect(result).toMatchObject({ reason: 'walltime', exitCode: null, signal: null });
    expect(existsSync(join(dir, 'started'))).toBe(false);
  });

  it('an already aborted signal does not start the payload', async () => {
    const { dir, options } = job('touch started');
    const result = await runPayload({ ...options, signal: AbortSignal.abort() });
    expect(result.reason).toBe('aborted');
    expect(existsSync(join(dir, 'started'))).toBe(false);
  });

  it('the deadline stops a running payload (walltime); a far deadline does not fire early', async () => {
    const { options } = job('echo ready > "$PILOT_STATUS_FILE"; sleep 300');
    const near = await runPayload({ ...options, deadline: Date.now() + 500, timeoutMs: 60_000 });
    expect(near).toMatchObject({ reason: 'walltime', signal: 'SIGTERM' });

    const quick = job('exit 0');
    const far = await runPayload({ ...quick.options, deadline: Date.now() + 40 * 24 * 3600 * 1000 });
    expect(far).toMatchObject({ reason: 'exited', exitCode: 0 });
  });

  it('background processes left behind after a normal exit are stopped', async () => {
    const { dir, options } = job('sleep 300 & echo $! > stray.pid; exit 0');
    const result = await runPayload(options);
    expect(result).toMatchObject({ reason: 'exited', exitCode: 0, straysStopped: true });
    expect(gone(Number(readFileSync(join(dir, 'stray.pid'), 'utf8')))).toBe(true);
  });
});

describe('tailFile', () => {
  it('returns the last bytes, never half a character, and "" for a missing file', async () => {
    const { dir } = job(undefined);
    const path = join(dir, 'utf8.txt');
    const text = `${'x'.repeat(100)}ééé\nlast line ✓\n`;
    writeFileSync(path, text);
    const bytes = Buffer.from(text);
    expect(await tailFile(path, bytes.length + 10)).toBe(text);
    const tail = await tailFile(path, 20);
    // 20 bytes back from the end starts inside an "é": the partial byte is dropped.
    expect(tail).toBe('éé\nlast line ✓\n');
    expect(await tailFile(join(dir, 'nope'), 100)).toBe('');
  });
});
