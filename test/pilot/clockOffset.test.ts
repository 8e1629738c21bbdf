import { describe, expect, it } from 'vitest';
import { createServerClock, narrowOffset, offsetBoundsOf, offsetEstimate } from '../../src/core';

const T = Date.parse('2024-05-01T12:00:00Z');
const header = (ms: number) => new Date(ms).toUTCString();

describe('offsetBoundsOf: what one reply says about server time - local time', () => {
  it('bounds the offset by the whole second of the header and the round trip', () => {
    // Server says 12:00:10 (so 10.000-10.999 s), we sent at 12:00:00.000 and got it at 12:00:00.200.
    expect(offsetBoundsOf(header(T + 10_000), T, T + 200)).toEqual({ low: 9800, high: 11_000 });
  });

  it('a server behind us gives negative bounds', () => {
    expect(offsetBoundsOf(header(T - 3_600_000), T, T + 50)).toEqual({ low: -3_600_050, high: -3_599_000 });
  });

  it('tells nothing without a readable header or with times in the wrong order', () => {
    expect(offsetBoundsOf(undefined, T, T + 1)).toBeUndefined();
    expect(offsetBoundsOf('', T, T + 1)).toBeUndefined();
    expect(offsetBoundsOf('not a date', T, T + 1)).toBeUndefined();
    expect(offsetBoundsOf(header(T), T + 1, T)).toBeUndefined();
  });
});

describe('narrowOffset and offsetEstimate', () => {
  it('replies narrow the bounds: the estimate comes within a fraction of a second', () => {
    // True offset +10.4 s. The header is cut to whole seconds: replies made just before and just
    // after a second ticks on the server pin the offset down from both sides.
    const offset = 10_400;
    const at = (local: number) => offsetBoundsOf(header(local + offset), local, local + 20)!;
    let known = at(T);
    expect(known).toEqual({ low: 9980, high: 11_000 });
    known = narrowOffset(known, at(T + 590)); // server 12:00:10.990
    known = narrowOffset(known, at(T + 620)); // server 12:00:11.020
    expect(known).toEqual({ low: 10_360, high: 10_410 });
    expect(Math.abs(offsetEstimate(known) - offset)).toBeLessThan(50);
  });

  it('a reply that contradicts what is known (a clock was stepped) replaces it', () => {
    const known = { low: 9800, high: 10_200 };
    const stepped = { low: 69_800, high: 71_000 };
    expect(narrowOffset(known, stepped)).toEqual(stepped);
    expect(narrowOffset(undefined, stepped)).toEqual(stepped);
  });

  it('the estimate is the middle of the bounds, 0 before any reply', () => {
    expect(offsetEstimate({ low: -1000, high: 0 })).toBe(-500);
    expect(offsetEstimate(undefined)).toBe(0);
  });
});

describe('createServerClock', () => {
  it('runs on the local clock until a reply says otherwise, then on the server time', () => {
    let local = T;
    const clock = createServerClock(() => local);
    expect(clock.now()).toBe(T);
    clock.observe(undefined, T, T + 10);
    expect(clock.now()).toBe(T);
    clock.observe(header(T + 60_000), T, T + 10);
    expect(Math.abs(clock.now() - (T + 60_000))).toBeLessThanOrEqual(505);
    local += 5000;
    expect(Math.abs(clock.now() - (T + 65_000))).toBeLessThanOrEqual(505);
  });
});
