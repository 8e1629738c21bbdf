import { describe, expect, it } from 'vitest';
import {
  renewalIntervalMs,
  renewalRetryMs,
  renewalTimeoutMs,
  stopMarginMs,
  urgentGraceMs,
} from '../../src/pilot/leaseTiming';

const S = 1000;

describe('lease timing', () => {
  it('renews every third of the lease, and stops with a sixth (at least a few seconds) left', () => {
    expect(renewalIntervalMs(600 * S)).toBe(200 * S);
    expect(stopMarginMs(600 * S)).toBe(100 * S);
    expect(stopMarginMs(30 * S)).toBe(5 * S);
    expect(stopMarginMs(12 * S)).toBe(4 * S);
    // Very short leases (tests): a third, so the pilot still gets to run.
    expect(stopMarginMs(3 * S)).toBe(1 * S);
    for (const lease of [3, 4, 12, 30, 600, 86_400]) {
      expect(stopMarginMs(lease * S)).toBeLessThan(lease * S - renewalIntervalMs(lease * S) + 1);
    }
  });

  it('a payload stopped for the lease is KILLed within half the margin, never later than the grace', () => {
    expect(urgentGraceMs(600 * S, 30 * S)).toBe(30 * S);
    expect(urgentGraceMs(30 * S, 30 * S)).toBe(2.5 * S);
    expect(urgentGraceMs(600 * S, 2 * S)).toBe(2 * S);
  });

  it('a renewal gets a sixth of the lease (1-30 s) to be answered', () => {
    expect(renewalTimeoutMs(600 * S)).toBe(30 * S);
    expect(renewalTimeoutMs(30 * S)).toBe(5 * S);
    expect(renewalTimeoutMs(3 * S)).toBe(1 * S);
  });

  it('a failed renewal is retried after 1 s, 2 s, 4 s ... up to the interval (30 s at most), with jitter', () => {
    const top = (failures: number, lease = 600) => renewalRetryMs(failures, lease * S, 1);
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((f) => top(f))).toEqual(
      [1, 2, 4, 8, 16, 30, 30, 30].map((s) => s * S),
    );
    expect(top(10, 12)).toBe(4 * S);
    expect(renewalRetryMs(1, 600 * S, 0)).toBe(0.5 * S);
    expect(renewalRetryMs(3, 600 * S, 0.5)).toBe(3 * S);
  });
});
