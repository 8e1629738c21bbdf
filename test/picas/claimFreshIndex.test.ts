import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedCouch, startEmbeddedCouch } from '../../src/dbserver';
import { openPicas, type PicasDb } from '../../src/picas/client';
import { claimToken, newCandidateCache } from '../../src/picas/protocol';
import { SPREAD_KEYS, spreadKey } from '../../src/picas/viewDefinitions';
import { couchServerUrl, createTestDatabase } from '../helpers/couch';
import { picasFor, putDesignDoc, seedTokens } from '../helpers/seedTokens';

/**
 * A fleet usually starts right after the tokens were made, when the index was never built. A read
 * that does not wait for the index may then answer empty (the embedded server), block until it is
 * built, or list what it has so far (CouchDB, depending on version and load). Whatever it does,
 * pilots must not all start at the top of the view (in the 500-pilot stampede: the first claims
 * took 25 s): each starts at its own random key, also when only the up-to-date index answers.
 */

const TYPE = 'freshidx';
const TOKENS = 100;
const PAGE = 10;

/** The window a claimer starting at `draw` reads: the first PAGE ids by spread key from there. */
function windowAt(ids: string[], draw: number): string[] {
  const start = Math.floor(draw * SPREAD_KEYS);
  return ids
    .filter((id) => spreadKey(id) >= start)
    .sort((a, b) => spreadKey(a) - spreadKey(b))
    .slice(0, PAGE);
}

async function claimOnFreshIndex(picas: PicasDb, draw: number) {
  return claimToken(picas, TYPE, {
    cache: newCandidateCache(),
    pageSize: PAGE,
    pilotId: 'p',
    host: 'wn',
    leaseSeconds: 600,
    maxAttempts: 3,
    rng: () => draw,
  });
}

describe('claim with a candidate cache on an index never built', () => {
  it('starts at its random key, not at the top of the view (the test server)', async () => {
    const t = await createTestDatabase('lrt_freshidx');
    try {
      await putDesignDoc(t, TYPE);
      const ids = await seedTokens(t, TYPE, TOKENS);
      const top = windowAt(ids, 0);
      const claimed = await claimOnFreshIndex(picasFor(t), 0.5);
      expect(claimed).not.toBeNull();
      expect(windowAt(ids, 0.5)).toContain(claimed!.doc._id);
      expect(top).not.toContain(claimed!.doc._id);
    } finally {
      await t.drop();
    }
  });

  describe('on a server whose stale reads lag (lrt db serve --lagging-views)', () => {
    let server: EmbeddedCouch;
    beforeAll(async () => {
      // The suite's admin credentials, which the seeding helpers send.
      const suite = new URL(couchServerUrl());
      server = await startEmbeddedCouch({
        laggingViewsMs: 300,
        memoryPrefix: 'freshidx_',
        adminUser: decodeURIComponent(suite.username),
        adminPassword: decodeURIComponent(suite.password),
      });
    });
    afterAll(async () => server?.close());

    it('starts at its random key, not at the top of the view', async () => {
      const name = 'lrt_freshidx_lagging';
      const admin = {
        url: server.url,
        database: name,
        user: server.adminUser,
        password: server.adminPassword,
      };
      const picas = openPicas(admin);
      await picas.server.db.create(name);
      const t = {
        serverUrl: server.urlWithCredentials,
        user: server.adminUser,
        password: server.adminPassword,
        baseUrl: server.url,
        name,
        drop: async () => {},
      };
      await putDesignDoc(t, TYPE);
      const ids = await seedTokens(t, TYPE, TOKENS);
      for (const draw of [0.25, 0.75]) {
        // A stale read may see the index half built, whose rows from the key on reach further.
        const claimed = await claimOnFreshIndex(picas, draw);
        expect(spreadKey(claimed!.doc._id)).toBeGreaterThanOrEqual(Math.floor(draw * SPREAD_KEYS));
        expect(windowAt(ids, 0)).not.toContain(claimed!.doc._id);
      }
    });
  });
});
