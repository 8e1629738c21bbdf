import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLrtError } from '../../src/core';
import type { PicasDb } from '../../src/picas/client';
import {
  type AttemptRecord,
  type ClaimEvent,
  type ClaimOptions,
  claimToken,
  fencedUpdate,
  finishPatch,
  type Lease,
  newCandidateCache,
  settleWrite,
} from '../../src/picas/protocol';
import { type StoredToken, type TokenDoc, tokenToDoc } from '../../src/picas/tokenDoc';
import {
  claimDesignDocName,
  conditionView,
  SPREAD_KEYS,
  SPREAD_VIEW,
  STATUS_CONDITIONS,
  spreadKey,
  standardViews,
} from '../../src/picas/viewDefinitions';
import { adminAuthHeader, createTestDatabase, type TestDatabase } from '../helpers/couch';
import {
  bulkDocs,
  getDoc,
  picasFor,
  putDesignDoc,
  seededRng,
  seedTokens,
  tokenDocs,
  updateDoc,
  viewIds,
} from '../helpers/seedTokens';
import { putClaimDesignDoc } from '../helpers/tokens';

const TYPE = 'pref_targ1';
const T0 = 1_700_000_000;

let t: TestDatabase;
let picas: PicasDb;

beforeEach(async () => {
  t = await createTestDatabase('lrt_claim');
  picas = picasFor(t);
});
afterEach(async () => t?.drop());

function options(over: Partial<ClaimOptions> = {}): ClaimOptions {
  return {
    pilotId: 'pilot-1',
    host: 'wn1.grid',
    leaseSeconds: 600,
    maxAttempts: 3,
    rng: seededRng(1),
    backoffBaseMs: 5,
    backoffMaxMs: 50,
    racePauseMs: 20,
    ...over,
  };
}

/** The claim's handle on `t`, with every view query it makes recorded (path and query string). */
function recordingPicas(t: TestDatabase) {
  const plain = picasFor(t);
  const queries: Array<{ path: string; qs: Record<string, unknown> }> = [];
  const server = {
    ...plain.server,
    request: (o: { path?: string; qs?: Record<string, unknown> }) => {
      if (o.path?.includes('/_view/')) queries.push({ path: o.path, qs: o.qs ?? {} });
      return plain.server.request(o as never);
    },
  } as PicasDb['server'];
  return { picas: { ...plain, server } as PicasDb, queries };
}

/** A pilot with a fixed clock (epoch s). */
const at = (seconds: number) => () => seconds * 1000;

describe('claimToken', () => {
  it('claims a free token with a lease, job ids and host, and takes it out of todo', async () => {
    await putDesignDoc(t, TYPE);
    const ids = await seedTokens(t, TYPE, 3);
    const claim = await claimToken(
      picas,
      TYPE,
      options({ clock: at(T0), jobIds: { slurm_job_id: '900_1' }, newLeaseId: () => 'lease-fixed' }),
    );
    expect(claim).not.toBeNull();
    expect(ids).toContain(claim!.doc._id);
    expect(claim!.leaseId).toBe('lease-fixed');
    expect(claim!.reclaimed).toBe(false);

    const stored = await getDoc(t, claim!.doc._id);
    expect(stored._rev).toBe(claim!.doc._rev);
    expect(stored).toMatchObject({
      lock: T0,
      done: 0,
      status: 'locked',
      hostname: 'wn1.grid',
      slurm_job_id: '900_1',
    });
    expect(stored.lease).toMatchObject({ id: 'lease-fixed', pilot: 'pilot-1', expires: T0 + 600 });
    expect(await viewIds(t, TYPE, 'locked')).toEqual([claim!.doc._id]);
    expect((await viewIds(t, TYPE, 'todo')).sort()).toEqual(ids.filter((id) => id !== claim!.doc._id).sort());
  });

  it('returns null on an empty view, and works on databases without the expired view', async () => {
    await putDesignDoc(t, TYPE, { todo: conditionView(TYPE, STATUS_CONDITIONS.todo) });
    expect(await claimToken(picas, TYPE, options())).toBeNull();
  });

  it('fails with E_VIEW_NOT_FOUND when the design document is missing', async () => {
    await seedTokens(t, TYPE, 1);
    const err = await claimToken(picas, TYPE, options()).catch((e: unknown) => e);
    expect(isLrtError(err, 'E_VIEW_NOT_FOUND')).toBe(true);
    expect((err as Error).message).toContain(`_design/${TYPE}`);
    expect((err as Error).message).not.toContain(t.password);
  });

  it('never claims tokens that are staging or finished', async () => {
    await putDesignDoc(t, TYPE);
    const docs = [
      ...tokenDocs(TYPE, 2),
      ...tokenDocs(TYPE, 5)
        .slice(2, 4)
        .map((d) => ({ ...d, status: 'staging' })),
      { ...tokenDocs(TYPE, 5)[4]!, lock: T0 - 9, done: T0 - 5, status: 'done' },
    ];
    await bulkDocs(t, docs);
    const got: string[] = [];
    for (
      let claim = await claimToken(picas, TYPE, options());
      claim;
      claim = await claimToken(picas, TYPE, options())
    ) {
      got.push(claim.doc._id);
    }
    expect(got.sort()).toEqual(
      docs
        .slice(0, 2)
        .map((d) => d._id)
        .sort(),
    );
    expect((await getDoc(t, docs[2]!._id)).lock).toBe(0);
  });

  it('rejects at once when its signal is aborted', async () => {
    await putDesignDoc(t, TYPE);
    await seedTokens(t, TYPE, 1);
    const controller = new AbortController();
    controller.abort(new Error('SIGTERM'));
    await expect(claimToken(picas, TYPE, options({ signal: controller.signal }))).rejects.toThrow('SIGTERM');
    expect(await viewIds(t, TYPE, 'todo')).toHaveLength(1);
  });
});

describe('a token made by GRID_LRT', () => {
  it('is claimed and finished keeping its own fields and its srm.txt attachment', async () => {
    const fixtures = join(__dirname, '../fixtures/claim');
    const { _rev, _attachments, ...token } = JSON.parse(
      readFileSync(join(fixtures, 'token_tokenset_tutorial_cfg.json'), 'utf8'),
    ) as StoredToken;
    const srm = readFileSync(join(fixtures, 'srm_1_sara.txt'));
    const type = token.type;
    await putDesignDoc(t, type);
    await bulkDocs(t, [
      { ...token, _attachments: { 'srm.txt': { content_type: 'text/plain', data: srm.toString('base64') } } },
    ]);

    const claim = await claimToken(picas, type, options({ clock: at(T0) }));
    expect(claim?.doc._id).toBe(token._id);
    const finish = (doc: TokenDoc) =>
      finishPatch(doc, claim!.leaseId, { now: T0 + 60, exitCode: 0, ok: true, phase: 'running' });
    await fencedUpdate(picas, token._id, claim!.leaseId, finish, { current: claim!.doc });

    const stored = await getDoc(t, token._id);
    expect(stored).toMatchObject({
      PIPELINE: token.PIPELINE,
      RESULTS_DIR: token.RESULTS_DIR,
      SBXloc: token.SBXloc,
    });
    expect(stored.times).toEqual({ ...(token.times as object), locked: T0, done: T0 + 60 });
    expect(stored).toMatchObject({ status: 'done', lock: T0, done: T0 + 60, output: 0 });
    const res = await fetch(`${t.baseUrl}/${t.name}/${token._id}/srm.txt`, {
      headers: { authorization: adminAuthHeader() },
    });
    expect(Buffer.from(await res.arrayBuffer()).equals(srm)).toBe(true);
  });
});

describe.each([
  [8, false],
  [32, false],
  [32, true],
])('%i concurrent pilots on 200 tokens (candidate cache: %s)', (pilots, cached) => {
  it('claim every token exactly once and stop only when todo is empty', async () => {
    await putDesignDoc(t, TYPE);
    const ids = await seedTokens(t, TYPE, 200);
    const claims = new Map<string, string[]>();
    const leases = new Map<string, string>();
    const todoLeftWhenStopping: number[] = [];

    const pilot = async (n: number) => {
      const opts = options({
        pilotId: `pilot-${n}`,
        host: `wn${n}.grid`,
        rng: seededRng(1000 + n),
        ...(cached ? { cache: newCandidateCache(), pageSize: 25 } : {}),
      });
      for (;;) {
        const claim = await claimToken(picas, TYPE, opts);
        if (!claim) {
          todoLeftWhenStopping.push((await viewIds(t, TYPE, 'todo')).length);
          return;
        }
        claims.set(claim.doc._id, [...(claims.get(claim.doc._id) ?? []), `pilot-${n}`]);
        leases.set(claim.doc._id, claim.leaseId);
      }
    };
    await Promise.all(Array.from({ length: pilots }, (_, n) => pilot(n)));

    const doubles = [...claims.entries()].filter(([, who]) => who.length > 1);
    expect(doubles).toEqual([]);
    expect([...claims.keys()].sort()).toEqual([...ids].sort());
    expect(todoLeftWhenStopping).toEqual(Array(pilots).fill(0));
    // What is stored agrees: every token holds the lease of the one pilot that claimed it.
    const locked = await viewIds(t, TYPE, 'locked');
    expect(locked).toHaveLength(200);
    for (const id of ids) {
      const doc = await getDoc(t, id);
      expect((doc.lease as Lease).id).toBe(leases.get(id));
      expect(doc.attempts as AttemptRecord[]).toHaveLength(1);
    }
  });
});

describe('expired leases', () => {
  async function claimAt(seconds: number, pilot: string, over: Partial<ClaimOptions> = {}) {
    return claimToken(
      picas,
      TYPE,
      options({ clock: at(seconds), pilotId: pilot, host: `${pilot}.grid`, ...over }),
    );
  }

  it('are reclaimed by another pilot once past, judged by the injected clock', async () => {
    await putDesignDoc(t, TYPE);
    const [id] = await seedTokens(t, TYPE, 1);
    const first = await claimAt(T0, 'pilot-A', { leaseSeconds: 60 });
    expect(first?.doc._id).toBe(id);

    expect(await claimAt(T0 + 59, 'pilot-B')).toBeNull();
    const second = await claimAt(T0 + 61, 'pilot-B');
    expect(second).toMatchObject({ reclaimed: true });
    expect(second!.leaseId).not.toBe(first!.leaseId);

    const stored = await getDoc(t, id!);
    expect(stored).toMatchObject({
      scrub_count: 1,
      hostname: 'pilot-B.grid',
      lock: T0 + 61,
      status: 'locked',
    });
    expect((stored.lease as Lease).id).toBe(second!.leaseId);
    expect((stored.attempts as AttemptRecord[]).map((a) => [a.pilot, a.reason])).toEqual([
      ['pilot-A', 'lease expired'],
      ['pilot-B', undefined],
    ]);
  });

  it('send a token to error after maxAttempts expiries, and the pilot carries on with other work', async () => {
    await putDesignDoc(t, TYPE);
    const [doomed] = await seedTokens(t, TYPE, 1);
    const maxAttempts = 2;
    expect((await claimAt(T0, 'pilot-A', { leaseSeconds: 60, maxAttempts }))?.doc._id).toBe(doomed);
    expect((await claimAt(T0 + 100, 'pilot-B', { leaseSeconds: 60, maxAttempts }))?.reclaimed).toBe(true);

    // New work arrives while pilot B's lease runs out too.
    const fresh = tokenDocs(TYPE, 2)[1]!._id;
    await bulkDocs(t, [tokenDocs(TYPE, 2)[1]!]);
    const events: ClaimEvent[] = [];
    const pilotC = { leaseSeconds: 60, maxAttempts, onEvent: (e: ClaimEvent) => events.push(e) };
    const c1 = await claimAt(T0 + 300, 'pilot-C', pilotC);
    expect(c1?.doc._id).toBe(fresh);
    const c2 = await claimAt(T0 + 300, 'pilot-C', pilotC);
    expect(c2).toBeNull();

    const stored = await getDoc(t, doomed!);
    const reason = 'lease expired 2 times; last pilot pilot-B on host pilot-B.grid';
    expect(stored).toMatchObject({
      status: 'error',
      done: T0 + 300,
      scrub_count: 2,
      launcher_status: reason,
    });
    expect(stored.lease).toBeUndefined();
    expect(events.filter((e) => e.type === 'errored')).toEqual([{ type: 'errored', token: doomed, reason }]);
    expect(await viewIds(t, TYPE, 'error')).toEqual([doomed]);
  });
});

describe('replica conflicts (clustered CouchDB)', () => {
  it('the winning revision keeps the token, the loser deletes its revision', async () => {
    await putDesignDoc(t, TYPE);
    const [id] = await seedTokens(t, TYPE, 1);
    const a = await claimToken(picas, TYPE, options({ pilotId: 'A' }));
    expect(a?.doc._id).toBe(id);

    // What a second node accepted at the same time: a sibling of A's revision, claimed by B.
    const base = await getDoc(t, id!, '?revs=true');
    const revs = base._revisions as { start: number; ids: string[] };
    const sibling: StoredToken = {
      ...tokenToDoc(a!.doc),
      lease: { ...a!.doc.lease!, id: 'lease-B', pilot: 'B' },
      _rev: `${revs.start}-${'f'.repeat(32)}`,
      _revisions: { start: revs.start, ids: ['f'.repeat(32), ...revs.ids.slice(1)] },
    };
    const siblingRev = (await bulkDocs(t, [sibling], false)).get(id!) || sibling._rev!;
    const withConflicts = await getDoc(t, id!, '?conflicts=true');
    expect(withConflicts._conflicts).toHaveLength(1);

    const keptA = (await settleWrite(picas, id!, a!.doc._rev!)).fate === 'won';
    const keptB = (await settleWrite(picas, id!, sibling._rev!)).fate === 'won';
    expect([keptA, keptB].filter(Boolean)).toHaveLength(1);
    const winner = await getDoc(t, id!, '?conflicts=true');
    expect(winner._conflicts).toBeUndefined();
    expect((winner.lease as Lease).id).toBe(keptA ? a!.leaseId : 'lease-B');
    expect([a!.doc._rev, siblingRev]).toContain(winner._rev);
  });
});

describe('the view claimed from', () => {
  const pages = (queries: Array<{ path: string; qs: Record<string, unknown> }>) =>
    queries.filter((q) => q.qs.limit !== 0 && !q.path.endsWith('/_view/expired'));

  it('is todo_spread of _design/claim:<type> where it exists, also when asked for todo', async () => {
    await putDesignDoc(t, TYPE);
    await seedTokens(t, TYPE, 40);
    const { picas: recorded, queries } = recordingPicas(t);
    const cache = newCandidateCache();
    for (const view of [undefined, 'todo']) {
      expect(await claimToken(recorded, TYPE, options({ cache, pageSize: 10, view }))).not.toBeNull();
    }
    expect(cache.view).toEqual({ type: TYPE, designDoc: `claim:${TYPE}`, name: SPREAD_VIEW, spread: true });
    const read = pages(queries);
    expect(read.length).toBeGreaterThan(0);
    for (const q of read) {
      expect(q.path).toBe(`_design/claim%3A${TYPE}/_view/${SPREAD_VIEW}`);
      // A random start key, or (a window that reached the end of the keys) the top up to it.
      expect(typeof (q.qs.startkey ?? q.qs.endkey)).toBe('number');
      expect(q.qs).not.toHaveProperty('skip');
      expect(q.qs).not.toHaveProperty('stale');
    }
  });

  it('is todo, read in random skip windows, where the claim design document is missing', async () => {
    // _design/<type> alone, as an older tool made it.
    await putDesignDoc(t, TYPE, standardViews(TYPE));
    await seedTokens(t, TYPE, 40);
    const { picas: recorded, queries } = recordingPicas(t);
    const cache = newCandidateCache();
    // rng 0.5: the first window starts halfway down the view.
    const claim = await claimToken(recorded, TYPE, options({ cache, pageSize: 10, rng: () => 0.5 }));
    expect(claim).not.toBeNull();
    expect(cache.view).toEqual({ type: TYPE, designDoc: TYPE, name: 'todo', spread: false });
    const [first] = pages(queries);
    expect(first).toEqual({
      path: `_design/${TYPE}/_view/todo`,
      qs: { include_docs: true, limit: 10, skip: 15, stable: true, update: 'lazy' },
    });
  });

  it('is the view asked for with --view, even where todo_spread exists', async () => {
    await putDesignDoc(t, TYPE, {
      ...standardViews(TYPE),
      mine: conditionView(TYPE, `${STATUS_CONDITIONS.todo} && doc.manual_int == 1`),
    });
    await putClaimDesignDoc(t, TYPE);
    const ids = await seedTokens(t, TYPE, 6);
    await updateDoc(t, ids[4]!, () => ({ manual_int: 1 }));
    const { picas: recorded, queries } = recordingPicas(t);
    const claim = await claimToken(recorded, TYPE, options({ cache: newCandidateCache(), view: 'mine' }));
    expect(claim?.doc._id).toBe(ids[4]);
    expect(pages(queries).every((q) => q.path === `_design/${TYPE}/_view/mine`)).toBe(true);
  });
});

describe('the candidate cache', () => {
  it('claims from the cached page without reading the view again, and drops a stale cache', async () => {
    const t = await createTestDatabase();
    try {
      const picas = picasFor(t);
      await putDesignDoc(t, 'cachetest');
      await seedTokens(t, 'cachetest', 30);
      let now = 1_000_000;
      const cache = newCandidateCache();
      const opts = options({
        pilotId: 'p',
        host: 'h',
        cache,
        pageSize: 10,
        clock: () => now,
        rng: seededRng(7),
      });
      const first = await claimToken(picas, 'cachetest', opts);
      expect(first).not.toBeNull();
      expect(cache.docs).toHaveLength(9);
      expect(cache.totalRows).toBe(30);
      const cachedIds = cache.docs.map((d) => d._id);
      const second = await claimToken(picas, 'cachetest', opts);
      // The second claim came from the cache: the first cached candidate, no new page.
      expect(second?.doc._id).toBe(cachedIds[0]);
      expect(cache.docs.map((d) => d._id)).toEqual(cachedIds.slice(1));
      // Another pilot takes the next cached candidate: the cached claim meets a 409 and moves on.
      const other = await claimToken(picas, 'cachetest', options({ pilotId: 'q', host: 'h2', view: 'todo' }));
      expect(other).not.toBeNull();
      now += 60_000;
      const third = await claimToken(picas, 'cachetest', opts);
      expect(third).not.toBeNull();
      // The cache was older than cacheMaxAgeMs: a fresh page was read.
      expect(cache.readAt).toBe(now);
      const claimedIds = [first, second, other, third].map((c) => c?.doc._id);
      expect(new Set(claimedIds).size).toBe(4);
    } finally {
      await t.drop();
    }
  });

  it('takes a todo_spread window from a random key, from its end back to the key, without skip', async () => {
    const t = await createTestDatabase();
    try {
      const { picas, queries } = recordingPicas(t);
      await putDesignDoc(t, 'spreadwin');
      await seedTokens(t, 'spreadwin', 30);
      const inViewOrder = await viewIds(t, claimDesignDocName('spreadwin'), SPREAD_VIEW);
      const cache = newCandidateCache();
      // rng 0: the window starts at key 0, the top of the view.
      const opts = options({ pilotId: 'w', host: 'h', cache, pageSize: 5, rng: () => 0 });
      const claimed: string[] = [];
      for (let i = 0; i < 5; i++) claimed.push((await claimToken(picas, 'spreadwin', opts))!.doc._id);
      // One page, used from its end: a claimer whose key falls in the gap starts after the page.
      expect(claimed).toEqual(inViewOrder.slice(0, 5).reverse());
      const pages = queries.filter((q) => q.qs.limit !== 0);
      expect(pages).toEqual([
        {
          path: `_design/claim%3Aspreadwin/_view/${SPREAD_VIEW}`,
          qs: { include_docs: true, startkey: 0, limit: 5, stable: true, update: 'lazy' },
        },
      ]);
      expect(cache.cursor).toBeUndefined();
    } finally {
      await t.drop();
    }
  });

  it('walks todo (no claim design document) from where its last page ended, without skip', async () => {
    const t = await createTestDatabase();
    try {
      const { picas, queries } = recordingPicas(t);
      await putDesignDoc(t, 'walk', standardViews('walk'));
      await seedTokens(t, 'walk', 30);
      const inViewOrder = await viewIds(t, 'walk', 'todo');
      const cache = newCandidateCache();
      // rng 0: the first window starts at the top of the view.
      const opts = options({ pilotId: 'w', host: 'h', cache, pageSize: 5, rng: () => 0 });
      const claimed: string[] = [];
      for (let i = 0; i < 10; i++) {
        const claim = await claimToken(picas, 'walk', opts);
        claimed.push(claim!.doc._id);
        if (i === 4) expect(cache.cursor?.id).toBe(inViewOrder[4]);
      }
      // Two pages: the first five rows, then the five after the cursor.
      expect([...claimed].sort()).toEqual(inViewOrder.slice(0, 10).sort());
      expect(cache.cursor?.id).toBe(inViewOrder[9]);
      // The second page was asked for after the cursor, from the index as it stands.
      const pages = queries.filter((q) => q.qs.limit !== 0 && q.path.endsWith('/_view/todo'));
      expect(pages).toHaveLength(2);
      expect(pages[1]!.qs).toMatchObject({
        startkey: inViewOrder[4],
        startkey_docid: inViewOrder[4],
        stable: true,
        update: 'lazy',
      });
      expect(queries.some((q) => 'skip' in q.qs || 'stale' in q.qs)).toBe(false);
    } finally {
      await t.drop();
    }
  });

  it('leaves a page to the claimer that beat it there, pauses, and reads another window', async () => {
    const t = await createTestDatabase();
    try {
      const picas = picasFor(t);
      await putDesignDoc(t, 'race');
      await seedTokens(t, 'race', 30);
      const inViewOrder = await viewIds(t, claimDesignDocName('race'), SPREAD_VIEW);
      let draw = 0;
      const cache = newCandidateCache();
      const events: ClaimEvent[] = [];
      const opts = options({
        pilotId: 'r',
        host: 'h',
        cache,
        pageSize: 5,
        rng: () => draw,
        racePauseMs: 400,
        onEvent: (e) => events.push(e),
      });
      // draw 0: the first window is the top of the view.
      const first = await claimToken(picas, 'race', opts);
      expect(inViewOrder.slice(0, 5)).toContain(first!.doc._id);
      const [taken, ...rest] = cache.docs.map((d) => d._id);
      // Another pilot claims the next cached candidate first: the cached rev now meets a 409.
      await updateDoc(t, taken!, () => ({ lock: T0, status: 'locked' }));
      // The next window starts at the key of row 25.
      draw = spreadKey(inViewOrder[25]!) / SPREAD_KEYS;
      const started = Date.now();
      const second = await claimToken(picas, 'race', opts);
      expect(inViewOrder.slice(25)).toContain(second!.doc._id);
      for (const id of rest) expect((await getDoc(t, id)).lock).toBe(0);
      // In between, a pause: at random, up to twice what the winner needs for the page's five
      // tokens (5 x our PUT round trip each), at most racePauseMs.
      // (On a cluster a claim may also be settled: not what this is about.)
      const seen = events.filter((e) => e.type !== 'settled');
      expect(seen.map((e) => e.type)).toEqual(['race', 'backoff']);
      expect(seen[0]).toEqual({ type: 'race', token: taken });
      const pause = (seen[1] as { ms: number }).ms;
      expect(pause).toBeGreaterThan(0);
      expect(pause).toBeLessThanOrEqual(400);
      expect(Date.now() - started).toBeGreaterThanOrEqual(pause - 5);
    } finally {
      await t.drop();
    }
  });
});
