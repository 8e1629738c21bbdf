import type { PicasDb } from '../../src/picas/client';
import { type ClaimedToken, type ClaimOptions, claimToken } from '../../src/picas/protocol';
import type { TestDatabase } from './couch';
import { picasFor, putDesignDoc, seededRng, seedTokens } from './seedTokens';

/**
 * A database with one token of `type`, claimed through the real claim by pilot-A on wn-a.grid
 * (60 s lease): the starting point of the tests of writes under a lease.
 */
export async function oneClaimedToken(
  t: TestDatabase,
  type: string,
  options: Partial<ClaimOptions> = {},
): Promise<{ picas: PicasDb; claim: ClaimedToken }> {
  const picas = picasFor(t);
  await putDesignDoc(t, type);
  await seedTokens(t, type, 1);
  const claim = await claimToken(picas, type, {
    pilotId: 'pilot-A',
    host: 'wn-a.grid',
    leaseSeconds: 60,
    maxAttempts: 3,
    rng: seededRng(7),
    ...options,
  });
  if (!claim) throw new Error('no token claimed');
  return { picas, claim };
}
