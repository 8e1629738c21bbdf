import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLrtError } from '../../src/core';
import type { PicasDb } from '../../src/picas/client';
import { deleteView, purgeType, resetView, setViewStatus } from '../../src/picas/viewOps';
import { listTokens, tokenOverview } from '../../src/picas/viewQuery';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import {
  base64,
  docStatus,
  fixtureText,
  insertTokens,
  makeTokens,
  openTestPicas,
  putTokenDesignDoc,
  readAllDocs,
  readToken,
  viewRowIds,
} from '../helpers/tokens';

const TYPE = 'sksp_test';
const NOW = 1_800_000_000;
const clock = () => NOW;

let t: TestDatabase;
let picas: PicasDb;

beforeEach(async () => {
  t = await createTestDatabase('lrt_viewops');
  picas = openTestPicas(t);
});
afterEach(async () => {
  await t.drop();
});

async function rejection(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** 7 todo, 1 staging, 3 locked, 2 running, 1 done, 2 error: ids from SB000 upwards. */
async function seedMixed() {
  const groups = {
    todo: makeTokens(TYPE, 7, 'todo', {}, 0),
    staging: makeTokens(TYPE, 1, 'staging', {}, 7),
    locked: makeTokens(TYPE, 3, 'locked', {}, 8),
    running: makeTokens(TYPE, 2, 'running', {}, 11),
    done: makeTokens(TYPE, 1, 'done', {}, 13),
    error: makeTokens(TYPE, 2, 'error', {}, 14),
  };
  await putTokenDesignDoc(t, TYPE);
  await insertTokens(t, Object.values(groups).flat());
  return Object.fromEntries(Object.entries(groups).map(([k, docs]) => [k, docs.map((d) => d._id)])) as Record<
    keyof typeof groups,
    string[]
  >;
}

describe('listTokens', () => {
  it('lists the ids of a view across pages, with docs when asked, up to a limit', async () => {
    const ids = await seedMixed();
    const rows = await listTokens(picas, TYPE, 'todo', { pageSize: 3 });
    expect(rows.map((r) => r.id).sort()).toEqual(ids.todo);
    const locked = await listTokens(picas, TYPE, 'locked', { includeDocs: true, pageSize: 2 });
    expect(locked.map((r) => r.id).sort()).toEqual([...ids.locked, ...ids.running]);
    expect(locked.every((r) => r.doc?.type === TYPE && Number(r.doc.lock) > 0)).toBe(true);
    expect(await listTokens(picas, TYPE, 'todo', { limit: 4, pageSize: 3 })).toHaveLength(4);
  });

  it('pages through 1,200 tokens once each, also through a view whose rows share one key', async () => {
    await putTokenDesignDoc(t, TYPE, {
      by_status: { map: `function (doc) { if (doc.type == "${TYPE}") emit(doc.status, 1); }` },
    });
    const docs = makeTokens(TYPE, 1200, 'todo');
    await insertTokens(t, docs);
    const expected = docs.map((d) => d._id).sort();
    const todo = await listTokens(picas, TYPE, 'todo', { pageSize: 250 });
    expect(todo.map((r) => r.id).sort()).toEqual(expected);
    // 1,200 rows with key "todo": more than a page of equal keys.
    const byStatus = await listTokens(picas, TYPE, 'by_status', { pageSize: 100 });
    expect(byStatus.map((r) => r.id).sort()).toEqual(expected);
  });

  it('names the design doc and the views that exist when the view is missing', async () => {
    await seedMixed();
    const err = await rejection(listTokens(picas, TYPE, 'todos'));
    expect(isLrtError(err, 'E_VIEW_NOT_FOUND')).toBe(true);
    const message = (err as Error).message;
    expect(message).toContain(`_design/${TYPE}`);
    expect(message).toContain('"todos"');
    for (const view of ['todo', 'locked', 'done', 'error', 'overview_total']) expect(message).toContain(view);
  });

  it('says when the design doc or the database is missing', async () => {
    const noDdoc = await rejection(listTokens(picas, 'other_type', 'todo'));
    expect(isLrtError(noDdoc, 'E_VIEW_NOT_FOUND')).toBe(true);
    expect((noDdoc as Error).message).toMatch(/_design\/other_type does not exist/);
    const gone = openTestPicas({ ...t, name: `${t.name}_missing` });
    expect(isLrtError(await rejection(listTokens(gone, TYPE, 'todo')), 'E_DB_NOT_FOUND')).toBe(true);
  });
});

describe('tokenOverview', () => {
  it('counts the tokens per state, running phases by name', async () => {
    const ids = await seedMixed();
    expect(await tokenOverview(picas, TYPE)).toEqual({
      todo: ids.todo.length,
      staging: ids.staging.length,
      locked: ids.locked.length,
      running: ids.running.length,
      done: ids.done.length,
      error: ids.error.length,
    });
  });

  it('reports every state at 0 on an empty type', async () => {
    await putTokenDesignDoc(t, TYPE);
    expect(await tokenOverview(picas, TYPE)).toEqual({ todo: 0, locked: 0, done: 0, error: 0, staging: 0 });
  });
});

describe('setViewStatus', () => {
  it("sets 'locked' on every todo token and locks it (GRID_LRT set_view_to_status)", async () => {
    const ids = await seedMixed();
    const report = await setViewStatus(picas, TYPE, 'todo', 'locked', { now: clock, pageSize: 3 });
    expect(report).toMatchObject({ changed: ids.todo.length, skipped: 0, failed: [] });
    expect(await viewRowIds(t, TYPE, 'todo')).toEqual([]);
    expect((await viewRowIds(t, TYPE, 'locked')).sort()).toEqual(
      [...ids.todo, ...ids.locked, ...ids.running].sort(),
    );
    const doc = await readToken(t, ids.todo[0]!);
    expect(doc).toMatchObject({ status: 'locked', lock: NOW, done: 0 });
  });

  it('refuses an empty status before touching anything', async () => {
    await seedMixed();
    expect(isLrtError(await rejection(setViewStatus(picas, TYPE, 'todo', '')), 'E_USAGE')).toBe(true);
  });
});

describe('resetView', () => {
  it('resets the error tokens with scrub_count+1, keeping srm.txt and dropping logs when asked', async () => {
    await putTokenDesignDoc(t, TYPE);
    const srm = fixtureText('srm_1_sara.txt');
    const attachments = {
      'srm.txt': { content_type: 'text/plain', data: base64(srm) },
      'run.log': { content_type: 'text/plain', data: base64('payload failed\n') },
    };
    const failed = makeTokens(TYPE, 4, 'error', { _attachments: attachments });
    const others = makeTokens(TYPE, 3, 'done', {}, 4);
    await insertTokens(t, [...failed, ...others]);

    const report = await resetView(picas, TYPE, 'error', { now: clock, dropAttachments: 'logs' });
    expect(report).toMatchObject({ changed: 4, skipped: 0, conflictsRetried: 0, failed: [], dryRun: false });
    expect(report.ids.sort()).toEqual(failed.map((d) => d._id));
    for (const { _id } of failed) {
      const doc = await readToken(t, _id);
      expect(doc).toMatchObject({
        lock: 0,
        done: 0,
        status: 'todo',
        scrub_count: 1,
        hostname: '',
        output: '',
      });
      expect(Object.keys(doc._attachments ?? {})).toEqual(['srm.txt']);
      const res = await fetch(`${t.baseUrl}/${t.name}/${_id}/srm.txt`, {
        headers: { authorization: `Basic ${Buffer.from(`${t.user}:${t.password}`).toString('base64')}` },
      });
      expect(await res.text()).toBe(srm);
    }
    for (const { _id } of others)
      expect(await readToken(t, _id)).toMatchObject({ status: 'done', scrub_count: 0 });
  });

  it('writes nothing on a dry run and shows before/after of the changed fields', async () => {
    const ids = await seedMixed();
    const before = await readAllDocs(t);
    const report = await resetView(picas, TYPE, 'locked', { now: clock, dryRun: true });
    const wanted = [...ids.locked, ...ids.running];
    expect(report).toMatchObject({ dryRun: true, changed: wanted.length, failed: [] });
    expect(report.preview?.map((p) => p.id).sort()).toEqual(wanted);
    const first = report.preview?.find((p) => p.id === ids.running[0]);
    const old = before.get(ids.running[0]!)!;
    expect(first?.fields.status).toEqual({ before: 'running', after: 'todo' });
    expect(first?.fields.lock).toEqual({ before: old.lock, after: 0 });
    expect(first?.fields.lease).toEqual({ before: old.lease, after: undefined });
    expect(await readAllDocs(t)).toEqual(before);
  });

  it('reports rows the server refuses in failed and changes the rest', async () => {
    await putTokenDesignDoc(t, TYPE);
    // A validation function as a site might install: frozen tokens may not change.
    const guard = {
      _id: '_design/guard',
      validate_doc_update: 'function (n, o) { if (o && o.frozen) throw({forbidden: "frozen"}); }',
    };
    await insertTokens(t, [
      guard,
      ...makeTokens(TYPE, 2, 'error', { frozen: true }),
      ...makeTokens(TYPE, 3, 'error', {}, 2),
    ]);
    const report = await resetView(picas, TYPE, 'error', { now: clock });
    expect(report.changed).toBe(3);
    expect(report.failed.map((f) => f.id).sort()).toEqual([
      `t_${TYPE}_L345916_SB000`,
      `t_${TYPE}_L345916_SB001`,
    ]);
    expect(report.failed.every((f) => f.error.startsWith('forbidden'))).toBe(true);
  });
});

describe('deleteView and purgeType', () => {
  it('deletes the tokens of a custom view and nothing else', async () => {
    await putTokenDesignDoc(t, TYPE, {
      demo_view: {
        map: `function (doc) { if (doc.type == "${TYPE}" && doc.manual_int == 0) emit(doc._id, doc._id); }`,
      },
    });
    const inView = makeTokens(TYPE, 3, 'todo', { manual_int: 0 });
    const outside = makeTokens(TYPE, 2, 'todo', { manual_int: 1 }, 3);
    await insertTokens(t, [...inView, ...outside]);
    const dry = await deleteView(picas, TYPE, 'demo_view', { dryRun: true });
    expect(dry.changed).toBe(3);
    expect(await docStatus(t, inView[0]!._id)).toBe(200);
    const report = await deleteView(picas, TYPE, 'demo_view');
    expect(report).toMatchObject({ changed: 3, failed: [] });
    for (const { _id } of inView) expect(await docStatus(t, _id)).toBe(404);
    expect([...(await readAllDocs(t)).keys()].sort()).toEqual(outside.map((d) => d._id));
  });

  it('purges every token of the type and its design doc without using views, other types untouched', async () => {
    await putTokenDesignDoc(t, TYPE);
    await putTokenDesignDoc(t, 'other');
    const mine = [...makeTokens(TYPE, 5, 'todo'), ...makeTokens(TYPE, 2, 'error', {}, 5)];
    const theirs = makeTokens('other', 4, 'todo');
    await insertTokens(t, [...mine, ...theirs]);
    // Views cleared (GRID_LRT clear_all_views): purge must still find the tokens.
    const ddoc = await readToken(t, `_design/${TYPE}`);
    await insertTokens(t, [{ ...ddoc, views: {} }]);

    const dry = await purgeType(picas, TYPE, { dryRun: true, pageSize: 3 });
    expect(dry).toMatchObject({
      changed: mine.length,
      designDoc: 'would-delete',
      claimDesignDoc: 'would-delete',
    });
    expect(await docStatus(t, `_design/claim:${TYPE}`)).toBe(200);
    const report = await purgeType(picas, TYPE, { pageSize: 3 });
    expect(report).toMatchObject({
      changed: mine.length,
      failed: [],
      designDoc: 'deleted',
      claimDesignDoc: 'deleted',
    });
    expect(await docStatus(t, `_design/${TYPE}`)).toBe(404);
    expect(await docStatus(t, `_design/claim:${TYPE}`)).toBe(404);
    expect(await docStatus(t, '_design/other')).toBe(200);
    expect(await docStatus(t, '_design/claim:other')).toBe(200);
    expect([...(await readAllDocs(t)).keys()].sort()).toEqual(theirs.map((d) => d._id));
    expect(await purgeType(picas, TYPE)).toMatchObject({
      changed: 0,
      designDoc: 'absent',
      claimDesignDoc: 'absent',
    });
  });
});
