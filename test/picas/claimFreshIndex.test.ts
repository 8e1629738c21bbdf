import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PicasDb } from '../../src/picas/client';
import { claimToken, newCandidateCache } from '../../src/picas/protocol';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import { picasFor, putDesignDoc, seedTokens } from '../helpers/seedTokens';

/**
 * A fleet usually starts right after the tokens were made, when the todo index was never built:
 * a `stale=ok` read then says the view is empty. Pilots must still learn its real size, or every
 * one of them starts on the same top page (in the 500-pilot stampede: the first claims took 25 s).
 */

const TYPE = 'freshidx';
let t: TestDatabase;
let picas: PicasDb;
let ids: string[];

beforeEach(async () => {
  t = await createTestDatabase('lrt_freshidx');
  picas = picasFor(t);
  await putDesignDoc(t, TYPE);
  ids = (await seedTokens(t, TYPE, 100)).sort();
});
afterEach(async () => t?.drop());

describe('claim with a candidate cache on an index never built', () => {
  it('picks its window from the real size of the view, not from the top', async () => {
    const claimed = await claimToken(picas, TYPE, {
      cache: newCandidateCache(),
      pageSize: 10,
      pilotId: 'p',
      host: 'wn',
      leaseSeconds: 600,
      maxAttempts: 3,
      // The last window of the view (skip = room); the top page would be ids[0..9].
      rng: () => 0.999,
    });
    expect(claimed).not.toBeNull();
    expect(ids.slice(-10)).toContain(claimed!.doc._id);
  });
});
