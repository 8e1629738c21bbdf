import { describe, expect, it } from 'vitest';
import { linkedController, mapWithConcurrency } from '../../src/core';

describe('mapWithConcurrency', () => {
  it('never runs more than N at once and keeps input order', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapWithConcurrency([50, 10, 30, 5, 20, 15, 1], 3, async (ms, i) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, ms));
      running -= 1;
      return i * 2;
    });
    expect(out).toEqual([0, 2, 4, 6, 8, 10, 12]);
    expect(peak).toBe(3);
  });
});

describe('mapWithConcurrency on a failure', () => {
  it('starts nothing more, aborts the controller, and throws the first failure once the running work settled', async () => {
    const controller = new AbortController();
    const started: number[] = [];
    let slowSettled = false;
    const run = mapWithConcurrency(
      [0, 1, 2, 3, 4, 5],
      2,
      async (i) => {
        started.push(i);
        if (i === 0) {
          await new Promise((r) => setTimeout(r, 5));
          throw new Error('item 0 failed');
        }
        // Item 1 is running when 0 fails: it sees the abort and still gets to finish.
        await new Promise((r) => setTimeout(r, 40));
        slowSettled = true;
        return i;
      },
      controller,
    );
    await expect(run).rejects.toThrow('item 0 failed');
    expect(slowSettled).toBe(true);
    expect(controller.signal.aborted).toBe(true);
    expect(started).toEqual([0, 1]);
  });

  it('an abort from outside throws its reason', async () => {
    const outer = new AbortController();
    const { controller, unlink } = linkedController([outer.signal]);
    const run = mapWithConcurrency(
      [1, 2, 3],
      1,
      async () => {
        outer.abort(new Error('SIGTERM'));
        return 0;
      },
      controller,
    );
    await expect(run).rejects.toThrow('SIGTERM');
    unlink();
  });
});
