import { describe, expect, it } from 'vitest';
import { backoffSchedule, type ErrorCode, isLrtError, LrtError } from '../../src/core';
import { classifyNotStaged, isRetryable, realSleep, withRetries } from '../../src/transfer/retry';

const policy = { baseMs: 100, maxMs: 1000 };

/** An rng that replays `values` in order. */
const replay = (values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length]!;
};

describe('what is retried', () => {
  const err = (code: ErrorCode) => new LrtError(code, code);
  it.each([
    ['E_TRANSFER', true],
    ['E_TRANSFER_AUTH', false],
    ['E_NOT_FOUND', false],
    ['E_NOT_STAGED', false],
    ['E_TOOL_MISSING', false],
  ] as const)('%s -> %s', (code, retry) => {
    expect(isRetryable(err(code), 0)).toBe(retry);
  });
  it('unknown errors are retried; a checksum mismatch once more only', () => {
    expect(isRetryable(new Error('socket hang up'), 0)).toBe(true);
    expect(isRetryable(err('E_CHECKSUM'), 1)).toBe(true);
    expect(isRetryable(err('E_CHECKSUM'), 2)).toBe(false);
  });
  it('a transfer error saying the file is NEARLINE becomes E_NOT_STAGED with exit 22', () => {
    const nearline = new LrtError('E_TRANSFER', 'download gsiftp://h/f failed: 451 File is NEARLINE');
    const classified = classifyNotStaged(nearline);
    expect(isLrtError(classified, 'E_NOT_STAGED')).toBe(true);
    expect((classified as LrtError).exitCode).toBe(22);
    const other = new LrtError('E_TRANSFER', 'connection reset');
    expect(classifyNotStaged(other)).toBe(other);
  });
});

describe('withRetries', () => {
  function recorder() {
    const waits: number[] = [];
    return { waits, sleep: async (ms: number) => void waits.push(ms) };
  }

  it('tries until it works, waiting the backoff schedule between attempts', async () => {
    const { waits, sleep } = recorder();
    let calls = 0;
    const outcome = await withRetries(
      async (n) => {
        calls += 1;
        expect(n).toBe(calls);
        if (n < 3) throw new LrtError('E_TRANSFER', `fail ${n}`);
        return 'ok';
      },
      { retries: 5, backoff: policy, rng: replay([0.5]), sleep },
    );
    expect(outcome).toEqual({ ok: true, value: 'ok', attempts: 3 });
    expect(waits).toEqual(backoffSchedule(2, policy, replay([0.5])));
  });

  it('stops at once on a failure retrying cannot fix, and after the last retry otherwise', async () => {
    const { waits, sleep } = recorder();
    const auth = await withRetries(
      async () => {
        throw new LrtError('E_TRANSFER_AUTH', 'expired proxy');
      },
      { retries: 5, sleep },
    );
    expect(auth.ok).toBe(false);
    expect(auth.attempts).toBe(1);
    expect(waits).toEqual([]);

    const net = await withRetries(
      async () => {
        throw new LrtError('E_TRANSFER', 'reset');
      },
      { retries: 2, sleep, rng: () => 0 },
    );
    expect(net.attempts).toBe(3);
    expect(!net.ok && isLrtError(net.error, 'E_TRANSFER')).toBe(true);
  });

  it('gives a checksum mismatch one more attempt, not more', async () => {
    const { sleep } = recorder();
    let calls = 0;
    const outcome = await withRetries(
      async () => {
        calls += 1;
        throw new LrtError('E_CHECKSUM', 'bad bytes');
      },
      { retries: 10, sleep, rng: () => 0 },
    );
    expect(calls).toBe(2);
    expect(outcome.attempts).toBe(2);
  });

  it('a cancel during the wait rejects with the signal reason', async () => {
    const controller = new AbortController();
    const reason = new Error('pilot stopping');
    setTimeout(() => controller.abort(reason), 20);
    const started = Date.now();
    const run = withRetries(
      async () => {
        throw new LrtError('E_TRANSFER', 'reset');
      },
      {
        retries: 3,
        backoff: { baseMs: 60_000, maxMs: 60_000 },
        rng: () => 1,
        sleep: realSleep,
        signal: controller.signal,
      },
    );
    await expect(run).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
