import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { bulkUpdate } from '../../src/picas/bulkUpdate';
import type { PicasDb } from '../../src/picas/client';
import { resetPatch } from '../../src/picas/protocol';
import { viewSource } from '../../src/picas/sources';
import type { TokenDoc } from '../../src/picas/tokenDoc';
import { deleteView, resetView } from '../../src/picas/viewOps';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import {
  docStatus,
  insertTokens,
  interleaved,
  makeTokens,
  openTestPicas,
  putTokenDesignDoc,
  readAllDocs,
  viewRowIds,
  writeFields,
} from '../helpers/tokens';

const onCluster = inject('couchKind') === 'cluster';

/*
 * Two parties on the same tokens: no update may be lost and no 409 may surface as a failure.
 * The interleaved tests put the other party's write exactly between our read and our write
 * (a wrapper around the real view source, the other party writes over HTTP to the real server);
 * the free-running tests let both run at once and check the invariants.
 */

const TYPE = 'lofar_conc';
const COUNT = 300;
const NOW = 1_800_000_000;

let t: TestDatabase;
let picas: PicasDb;
let ids: string[];

beforeEach(async () => {
  t = await createTestDatabase('lrt_conc');
  picas = openTestPicas(t);
  await putTokenDesignDoc(t, TYPE);
  const docs = makeTokens(TYPE, COUNT, 'locked');
  await insertTokens(t, docs);
  ids = docs.map((d) => d._id);
});
afterEach(async () => {
  await t.drop();
});

const reset = (doc: TokenDoc) => resetPatch(doc, { now: NOW });

async function expectAllResetOnce() {
  const docs = await readAllDocs(t);
  expect(docs.size).toBe(COUNT);
  for (const id of ids) {
    expect(docs.get(id), id).toMatchObject({ lock: 0, done: 0, status: 'todo', scrub_count: 1 });
    expect(docs.get(id)?.lease, id).toBeUndefined();
  }
  expect(await viewRowIds(t, TYPE, 'locked')).toEqual([]);
  return docs;
}

describe('two bulk resets of the same view', () => {
  it('the one that read first and wrote last skips every token the other already reset', async () => {
    let first: Awaited<ReturnType<typeof resetView>> | undefined;
    const source = interleaved(await viewSource(picas, TYPE, 'locked', { pageSize: 100 }), {
      afterPage: async () => {
        first ??= await resetView(picas, TYPE, 'locked', { now: () => NOW, pageSize: 70 });
      },
    });
    const second = await bulkUpdate(picas, source, reset);
    expect(first).toMatchObject({ changed: COUNT, skipped: 0, failed: [] });
    // Its first page (100 stale docs) came back 409, was re-read through the view, had left it.
    expect(second).toMatchObject({ changed: 0, conflictsRetried: 100, skipped: 100, failed: [] });
    await expectAllResetOnce();
  });

  it('running at the same time, every token is reset exactly once and no conflict fails', async () => {
    const [a, b] = await Promise.all([
      resetView(picas, TYPE, 'locked', { now: () => NOW, pageSize: 40 }),
      resetView(picas, TYPE, 'locked', { now: () => NOW, pageSize: 55 }),
    ]);
    expect(a.failed).toEqual([]);
    expect(b.failed).toEqual([]);
    // On a cluster both resets can write the same edit on different replicas: identical content
    // gets the identical revision there, so both count it (the token still changed once, below).
    if (onCluster) expect(a.changed + b.changed).toBeGreaterThanOrEqual(COUNT);
    else expect(a.changed + b.changed).toBe(COUNT);
    expect(new Set([...a.ids, ...b.ids]).size).toBe(COUNT);
    await expectAllResetOnce();
  });
});

describe('a reset while another writer changes other fields', () => {
  it('keeps the heartbeat progress written between our read and our write', async () => {
    const touched = new Map<string, number>();
    const source = interleaved(await viewSource(picas, TYPE, 'locked', { pageSize: 50 }), {
      afterPage: async (docs) => {
        // A pilot heartbeat on every third token of the page, with the rev it read itself.
        for (const doc of docs.filter((_, i) => i % 3 === 0)) {
          const progress = 0.25 + touched.size / 1000;
          await writeFields(t, doc._id, { progress });
          touched.set(doc._id, progress);
        }
      },
    });
    const report = await bulkUpdate(picas, source, reset);
    expect(report).toMatchObject({ changed: COUNT, conflictsRetried: touched.size, failed: [] });
    const docs = await expectAllResetOnce();
    for (const id of ids) expect(docs.get(id)?.progress, id).toBe(touched.get(id) ?? 0);
  });

  it('free-running: every write of the other party survives', async () => {
    const subset = ids.filter((_, i) => i % 4 === 1);
    const last = new Map<string, number>();
    let running = true;
    const writer = (async () => {
      for (let round = 1; running || round < 3; round++) {
        for (const id of subset) {
          await writeFields(t, id, { progress: round / 100 });
          last.set(id, round / 100);
        }
      }
    })();
    const report = await resetView(picas, TYPE, 'locked', { now: () => NOW, pageSize: 30 });
    running = false;
    await writer;
    expect(report).toMatchObject({ changed: COUNT, failed: [] });
    const docs = await expectAllResetOnce();
    for (const id of subset) expect(docs.get(id)?.progress, id).toBe(last.get(id));
  });

  it('gives up after maxRounds on tokens that keep changing, and writes nothing over them', async () => {
    const busy = new Set(ids.slice(0, 10));
    const bump = async (docs: TokenDoc[]) => {
      for (const doc of docs)
        if (busy.has(doc._id)) await writeFields(t, doc._id, { progress: Math.random() });
    };
    const source = interleaved(await viewSource(picas, TYPE, 'locked', { pageSize: 100 }), {
      afterPage: bump,
      afterReread: bump,
    });
    const report = await bulkUpdate(picas, source, reset, { maxRounds: 2 });
    expect(report.changed).toBe(COUNT - busy.size);
    expect(report.conflictsRetried).toBe(busy.size * 2);
    expect(report.failed.map((f) => f.id).sort()).toEqual([...busy].sort());
    expect(report.failed.every((f) => f.error.startsWith('conflict'))).toBe(true);
    const docs = await readAllDocs(t);
    for (const id of busy) expect(docs.get(id)).toMatchObject({ status: 'locked', scrub_count: 0 });
  });
});

describe('a delete while another writer changes the tokens', () => {
  it('re-reads the changed tokens and deletes them with their new rev', async () => {
    let writes = 0;
    const running = { on: true };
    const writer = (async () => {
      while (running.on) {
        const id = ids[writes % ids.length]!;
        if ((await docStatus(t, id)) !== 200) break;
        await writeFields(t, id, { progress: 0.5 }).catch(() => undefined);
        writes++;
      }
    })();
    const report = await deleteView(picas, TYPE, 'locked', { pageSize: 25 });
    running.on = false;
    await writer;
    expect(report).toMatchObject({ changed: COUNT, failed: [] });
    expect((await readAllDocs(t)).size).toBe(0);
  });
});
