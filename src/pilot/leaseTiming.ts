import { backoffDelay } from '../core';
/*
 * The times by which a pilot keeps its lease (docs/protocol.md, Lease safety), all in ms and
 * derived from the lease length. Pure: the heartbeat applies them.
 */

/** Renew every third of the lease: two renewals may fail before the lease is in danger. */
export function renewalIntervalMs(leaseMs: number): number {
  return Math.max(1000, leaseMs / 3);
}

/**
 * Lease time that must still be left when the pilot gives up and stops the payload: a sixth of
 * the lease, or a few seconds (a third of very short leases). It covers the payload's TERM to
 * KILL (urgentGraceMs), the error of the server-clock estimate (under 1 s plus a round trip) and
 * the whole second `expires` is rounded down to.
 */
export function stopMarginMs(leaseMs: number): number {
  return Math.max(leaseMs / 6, Math.min(5000, leaseMs / 3));
}

/**
 * TERM to KILL of a payload stopped because the lease is in danger, or because the pilot died:
 * the configured grace, but at most half the stop margin, so the payload is gone before the lease.
 */
export function urgentGraceMs(leaseMs: number, graceMs: number): number {
  return Math.min(graceMs, stopMarginMs(leaseMs) / 2);
}

/** How long one renewal may go unanswered before it is abandoned and tried again. */
export function renewalTimeoutMs(leaseMs: number): number {
  return Math.min(30_000, Math.max(1000, leaseMs / 6));
}

/**
 * Wait before the next renewal after `failures` failed ones in a row: 1 s, 2 s, 4 s ... up to the
 * renewal interval (30 s at most), times 0.5-1 at random so pilots cut off together do not come
 * back together. A refused login is never retried (picas/client.ts, isDbRefusal).
 */
export function renewalRetryMs(failures: number, leaseMs: number, random: number): number {
  const maxMs = Math.min(renewalIntervalMs(leaseMs), 30_000);
  return backoffDelay(failures, { baseMs: 1000, maxMs, jitter: 'equal' }, () => random);
}
