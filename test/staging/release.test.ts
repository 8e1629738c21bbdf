import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PicasDb } from '../../src/picas/client';
import { ensureDesignDoc } from '../../src/picas/designDocStore';
import { subbandOf } from '../../src/srm';
import {
  createStagerClient,
  gfal2PythonRunner,
  isStaged,
  listStagingTokens,
  releasePatch,
  releaseStagedTokens,
  releaseToken,
  resolveStagerSettings,
  stagingTokenPages,
  submitAndMarkStaging,
  watchRelease,
} from '../../src/staging';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import { bulkDocs, getDoc, picasFor, updateDoc, viewIds } from '../helpers/seedTokens';
import { manualClock, type StagerDouble, startStagerServer } from '../helpers/stagerServer';
import { MIXED, mockLinkOf } from './gfalMock';
import { plannedTokens, SURLS } from './tokens';

const PHASE = 1000;
const FILE = 100;

let db: TestDatabase;
let picas: PicasDb;
let server: StagerDouble;
let clock: ReturnType<typeof manualClock>;
let type: string;
let n = 0;

beforeAll(async () => {
  db = await createTestDatabase('lrt_staging_release');
  picas = picasFor(db);
});
afterAll(() => db.drop());
beforeEach(async () => {
  clock = manualClock();
  server = await startStagerServer({ now: clock.now, phaseMs: PHASE, fileMs: FILE });
  type = `rel${++n}`;
  await ensureDesignDoc(picas, type);
});
afterEach(() => server.close());

function stager() {
  return createStagerClient(
    resolveStagerSettings({
      flags: { url: server.url },
      env: { LOFAR_LTA_USER: server.user, LOFAR_LTA_PWD: server.password },
    }),
  );
}

/** Stager time at which the first `k` files of a request are online. */
function timeForOnline(k: number): number {
  return 2 * PHASE + (k - 1) * FILE;
}

async function stagedTokens(perToken = 10) {
  const tokens = plannedTokens(type, perToken);
  await submitAndMarkStaging(picas, type, tokens, { stager: stager() });
  return tokens;
}

describe('release via the stager', () => {
  it('moves each token to todo as soon as all of its SURLs are online, and no sooner', async () => {
    const tokens = await stagedTokens();
    const first = await releaseStagedTokens(picas, type, { via: 'stager', stager: stager() });
    expect(first).toMatchObject({ staging: tokens.length, released: [], unknown: [], skipped: [] });
    expect(first.waiting.map((w) => w.online)).toEqual(tokens.map(() => 0));

    // The double brings files online in list order: 10 files complete the first token only.
    clock.advance(timeForOnline(10));
    const second = await releaseStagedTokens(picas, type, { via: 'stager', stager: stager(), now: () => 42 });
    expect(second.released).toEqual([tokens[0]!.id]);
    expect(second.waiting[0]).toEqual({ id: tokens[1]!.id, surls: 10, online: 0 });
    expect(await viewIds(db, type, 'todo')).toEqual([tokens[0]!.id]);
    expect(await getDoc(db, tokens[0]!.id)).toMatchObject({
      status: 'todo',
      times: { todo: 42 },
      staging: { released: 42 },
    });

    clock.advance(14 * FILE); // 24 online: token 2 complete, token 3 has 4
    const third = await releaseStagedTokens(picas, type, { via: 'stager', stager: stager() });
    expect(third.released).toEqual([tokens[1]!.id]);
    expect(third.waiting[0]).toEqual({ id: tokens[2]!.id, surls: 10, online: 4 });

    clock.advance(SURLS.length * FILE);
    const last = await releaseStagedTokens(picas, type, { via: 'stager', stager: stager() });
    expect(last.released).toHaveLength(tokens.length - 2);
    expect((await viewIds(db, type, 'todo')).sort()).toEqual(tokens.map((t) => t.id).sort());
    expect(await listStagingTokens(picas, type)).toEqual([]);
  });

  it('pages through the staging tokens: pages of --page-size, each request asked once per pass', async () => {
    const tokens = await stagedTokens(2); // 2 subbands a token: more tokens than a page
    expect(tokens.length).toBeGreaterThan(12);
    const pages: string[][] = [];
    for await (const page of stagingTokenPages(picas, type, 5)) pages.push(page.map((d) => d._id));
    // Pages of 5 inside the one key `staging`: each starts at the last row of the page before
    // (startkey_docid, docs/couchdb-rules.md rule 20), the last page holds the rest.
    expect(pages.length).toBe(Math.ceil(tokens.length / 5));
    for (const page of pages.slice(0, -1)) expect(page).toHaveLength(5);
    expect(pages.flat().sort()).toEqual(tokens.map((t) => t.id).sort());

    clock.advance(timeForOnline(SURLS.length));
    const asked = () => server.calls.filter((c) => c.method === 'LtaStager.getstagedurls').length;
    const before = asked();
    const requests = new Set(
      (await Promise.all(tokens.map((t) => getDoc(db, t.id)))).flatMap(
        (d) => (d.staging as { requests: number[] }).requests,
      ),
    );
    const pass = await releaseStagedTokens(picas, type, { via: 'stager', stager: stager(), pageSize: 5 });
    expect(pass).toMatchObject({ staging: tokens.length, waiting: [], unknown: [], skipped: [] });
    expect(pass.released.sort()).toEqual(tokens.map((t) => t.id).sort());
    expect(asked() - before).toBe(requests.size);
    expect(await listStagingTokens(picas, type)).toEqual([]);
  });

  it('reports tokens whose request the stager does not know, and never releases them', async () => {
    // Two submissions, so that no other token's request covers the SURLs of the first two.
    const tokens = plannedTokens(type);
    await submitAndMarkStaging(picas, type, tokens.slice(0, 2), { stager: stager() });
    await submitAndMarkStaging(picas, type, tokens.slice(2), { stager: stager() });
    await updateDoc(db, tokens[0]!.id, (doc) => ({
      staging: { ...(doc.staging as object), requests: [999999] },
    }));
    await updateDoc(db, tokens[1]!.id, () => ({ staging: {} }));
    clock.advance(timeForOnline(SURLS.length));
    const report = await releaseStagedTokens(picas, type, { via: 'stager', stager: stager() });
    expect(report.unknown).toEqual([
      { id: tokens[0]!.id, reason: expect.stringMatching(/No staging request with ID 999999/) },
      { id: tokens[1]!.id, reason: 'the token names no staging request (use --via gfal)' },
    ]);
    expect(report.released).toEqual(tokens.slice(2).map((t) => t.id));
  });
});

describe('release via gfal locality (mock plugin)', () => {
  it('releases the tokens whose files are all ONLINE or ONLINE_AND_NEARLINE', async () => {
    const tokens = await stagedTokens();
    const report = await releaseStagedTokens(picas, type, {
      via: 'gfal',
      runner: gfal2PythonRunner(),
      linkOf: mockLinkOf(MIXED),
    });
    const stateOf = (surl: string) => MIXED(subbandOf(surl));
    const surlsOf = (id: string) =>
      tokens
        .find((t) => t.id === id)!
        .attachments![0]!.data.toString()
        .split('\n')
        .filter(Boolean);
    const expectedReady = tokens
      .filter((t) =>
        surlsOf(t.id).every((s) => {
          const st = stateOf(s);
          return typeof st === 'string' && isStaged(st);
        }),
      )
      .map((t) => t.id);
    expect(expectedReady.length).toBeGreaterThan(0);
    expect(report.released).toEqual(expectedReady);
    // SB150 is missing in the mock (errno 2): its token cannot be decided.
    const sb150 = tokens.find((t) => surlsOf(t.id).some((s) => subbandOf(s) === 150))!.id;
    expect(report.unknown).toEqual([{ id: sb150, reason: expect.stringMatching(/errno 2/) }]);
    expect(report.waiting.map((w) => w.id)).toEqual(
      tokens.map((t) => t.id).filter((id) => !expectedReady.includes(id) && id !== sb150),
    );
  });
});

describe('conflict-aware release', () => {
  it('loses no concurrent write and releases the token', async () => {
    const [token] = await stagedTokens();
    const id = token!.id;
    const writers = Array.from({ length: 5 }, (_, i) =>
      updateDoc(db, id, (doc) => ({ notes: [...((doc.notes as number[]) ?? []), i] })),
    );
    const [outcome] = await Promise.all([releaseToken(picas, id, 7), ...writers]);
    expect(outcome).toEqual({ released: true });
    const doc = await getDoc(db, id);
    expect(doc.status).toBe('todo');
    expect([...(doc.notes as number[])].sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('leaves a token alone that a pilot or a reset changed meanwhile', async () => {
    const [a, b] = await stagedTokens();
    await updateDoc(db, a!.id, () => ({ status: 'todo' }));
    await updateDoc(db, b!.id, () => ({ lock: 123, status: 'locked' }));
    expect(await releaseToken(picas, a!.id, 1)).toEqual({
      released: false,
      reason: 'status is "todo", not staging',
    });
    expect(await releaseToken(picas, b!.id, 1)).toEqual({
      released: false,
      reason: 'status is "locked", not staging',
    });
    expect(await releaseToken(picas, 'no-such-token', 1)).toEqual({
      released: false,
      reason: 'the token was deleted',
    });
    expect(releasePatch({ _id: 'x', type, lock: 5, done: 0, status: 'staging', extra: {} }, 1)).toEqual({
      reason: 'the token is locked or done',
    });
  });

  it('finds staging tokens without a design document by scanning', async () => {
    const bare = `bare${n}`;
    await bulkDocs(db, [
      { _id: `t_${bare}_1`, type: bare, lock: 0, done: 0, status: 'staging' },
      { _id: `t_${bare}_2`, type: bare, lock: 0, done: 0, status: 'todo' },
      { _id: `t_other_${bare}`, type: 'other', lock: 0, done: 0, status: 'staging' },
    ]);
    expect((await listStagingTokens(picas, bare)).map((d) => d._id)).toEqual([`t_${bare}_1`]);
  });
});

describe('watchRelease', () => {
  it('polls until no token is left in staging', async () => {
    const tokens = await stagedTokens(25); // chunks of 25 subbands: 100-124, 125-149, 150
    const passes = await watchRelease(picas, type, {
      via: 'stager',
      stager: stager(),
      intervalMs: 1000,
      timeoutMs: 60_000,
      clock: clock.now,
      sleep: async (ms) => clock.advance(ms),
    });
    // Files come online one per 100 ms from t=2 s: the 25th at 4.4 s, the 50th at 6.9 s, the 51st at 7.0 s.
    const released = passes.map((p) => p.released.length);
    expect(released.reduce((a, b) => a + b, 0)).toBe(tokens.length);
    expect(released).toEqual([0, 0, 0, 0, 0, 1, 0, 2]);
    expect(passes.at(-1)!.waiting).toEqual([]);
  });

  it('gives up at the timeout and says how many are left', async () => {
    await stagedTokens();
    await expect(
      watchRelease(picas, type, {
        via: 'stager',
        stager: stager(),
        intervalMs: 1000,
        timeoutMs: 2500,
        clock: clock.now,
        sleep: async (ms) => clock.advance(ms),
      }),
    ).rejects.toMatchObject({
      code: 'E_TIMEOUT',
      message: expect.stringMatching(
        /^6 token\(s\) of type rel\d+ still staging after 2\.5 s \(0 released meanwhile\)$/,
      ),
    });
  });
});
