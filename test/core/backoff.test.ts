import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { backoffDelay, backoffSchedule, sleep } from '../../src/core';

const policy = { baseMs: 100, maxMs: 1000 };

describe('backoff', () => {
  it('full jitter: the ceiling doubles per retry up to maxMs; the wait spans [0, ceiling)', () => {
    expect(backoffSchedule(6, policy, () => 0.999999)).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffSchedule(4, policy, () => 0)).toEqual([0, 0, 0, 0]);
    expect(backoffDelay(2, policy, () => 0.5)).toBe(100);
  });

  it('equal jitter: the wait spans [ceiling/2, ceiling)', () => {
    const equal = { ...policy, jitter: 'equal' as const };
    expect(backoffSchedule(5, equal, () => 0)).toEqual([50, 100, 200, 400, 500]);
    expect(backoffSchedule(5, equal, () => 0.999999)).toEqual([99, 199, 399, 799, 999]);
  });

  it('an rng outside [0, 1] is clamped; a huge retry number stays at maxMs', () => {
    expect(backoffDelay(1, policy, () => 7)).toBe(100);
    expect(backoffDelay(1, policy, () => -1)).toBe(0);
    expect(backoffDelay(5000, policy, () => 0.999999)).toBe(999);
  });
});

describe('sleep', () => {
  it('rejects with the signal reason, and leaves no abort listener behind', async () => {
    const controller = new AbortController();
    const reason = new Error('stop now');
    const pending = sleep(60_000, controller.signal);
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    const quiet = new AbortController();
    for (let i = 0; i < 20; i++) await sleep(1, quiet.signal);
    // timers/promises removes its listener once the timer fires: none are left on the signal.
    expect(getEventListeners(quiet.signal, 'abort')).toHaveLength(0);
    const during = sleep(60_000, quiet.signal);
    expect(getEventListeners(quiet.signal, 'abort')).toHaveLength(1);
    quiet.abort();
    await expect(during).rejects.toBeDefined();
  });
});
