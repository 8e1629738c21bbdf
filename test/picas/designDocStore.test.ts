import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLrtError } from '../../src/core';
import { bulkCreateTokens } from '../../src/picas/bulkCreate';
import { openPicas, type PicasDb } from '../../src/picas/client';
import {
  addView,
  clearViews,
  ensureDatabase,
  ensureDesignDoc,
  listViews,
  migrateCustomViews,
  readClaimDesignDoc,
  readCustomDesignDoc,
  readDesignDoc,
  readDesignDocById,
  removeView,
} from '../../src/picas/designDocStore';
import {
  claimDesignDocId,
  conditionView,
  customDesignDocId,
  designDocId,
  stagingDesignDocId,
  standardViews,
} from '../../src/picas/viewDefinitions';
import { resolveView } from '../../src/picas/viewQuery';
import { createTestDatabase, type TestDatabase, trackDatabase } from '../helpers/couch';

// docs/token-format.md: the views every `_design/<type>` has.
const SPEC_VIEWS = ['todo', 'locked', 'done', 'error', 'overview_total', 'overview_view', 'expired'];
// docs/token-format.md: the views of the claim's `_design/claim:<type>`.
const CLAIM_VIEWS = ['todo_spread'];

function picasFor(db: TestDatabase, overrides: { database?: string; password?: string } = {}): PicasDb {
  return openPicas({
    url: db.baseUrl,
    database: overrides.database ?? db.name,
    user: db.user,
    password: overrides.password ?? db.password,
  });
}

async function rowIds(picas: PicasDb, designDoc: string, view: string): Promise<string[]> {
  const res = await picas.db.view(designDoc, view);
  for (const row of res.rows) expect(row.value).toBe(row.id);
  return res.rows.map((r) => r.id).sort();
}

describe('design documents and views', () => {
  let testDb: TestDatabase;
  let picas: PicasDb;
  beforeAll(async () => {
    testDb = await createTestDatabase('lrt_ddoc');
    picas = picasFor(testDb);
  });
  afterAll(async () => testDb?.drop());

  it('creates _design/<type> with the spec views, and a second call writes nothing', async () => {
    const first = await ensureDesignDoc(picas, 'alpha');
    expect(first.changed).toBe(true);
    const stored = await readDesignDoc(picas, 'alpha');
    expect(Object.keys(stored?.views ?? {}).sort()).toEqual([...SPEC_VIEWS].sort());
    expect(stored?._rev).toBe(first.rev);

    const claim = await readClaimDesignDoc(picas, 'alpha');
    expect(claim?._id).toBe('_design/claim:alpha');
    expect(Object.keys(claim?.views ?? {})).toEqual(CLAIM_VIEWS);
    expect(first.claim).toMatchObject({ id: claimDesignDocId('alpha'), changed: true, rev: claim?._rev });

    const second = await ensureDesignDoc(picas, 'alpha');
    expect(second.changed).toBe(false);
    expect(second.claim.changed).toBe(false);
    const after = (await picas.db.get(designDocId('alpha')))._rev;
    expect(after).toBe(first.rev);
    expect((await readClaimDesignDoc(picas, 'alpha'))?._rev).toBe(claim?._rev);
  });

  it('upgrading a database adds and updates the claim design document, never rewriting _design/<type>', async () => {
    // _design/<type> as an earlier release wrote it, without the claim's design document. On
    // CouchDB a new _rev of it would rebuild `todo` under a running fleet.
    await picas.db.insert({ _id: designDocId('upg'), language: 'javascript', views: standardViews('upg') });
    const before = await readDesignDoc(picas, 'upg');
    const added = await ensureDesignDoc(picas, 'upg');
    expect(added.changed).toBe(false);
    expect(added.claim.changed).toBe(true);
    expect((await readDesignDoc(picas, 'upg'))?._rev).toBe(before?._rev);

    // A claim view of another source (an earlier or later spread function): only it is rewritten.
    const claimDoc = await readClaimDesignDoc(picas, 'upg');
    await picas.db.insert({
      ...claimDoc!,
      views: { todo_spread: { map: 'function (doc) { emit(1, doc._id); }' } },
    });
    const updated = await ensureDesignDoc(picas, 'upg');
    expect(updated.claim.changed).toBe(true);
    // The claim's document served a view: the new one was built in a staged copy first.
    expect(updated.claim.builds.map((b) => b.designDoc)).toEqual(['next:claim:upg']);
    expect(await readDesignDocById(picas, stagingDesignDocId(claimDesignDocId('upg')))).toBeUndefined();
    expect((await readClaimDesignDoc(picas, 'upg'))?.views.todo_spread?.map).toContain(
      'spread(String(doc._id))',
    );
    expect((await readDesignDoc(picas, 'upg'))?._rev).toBe(before?._rev);
  });

  it('status views list new tokens with key and value equal to the token id', async () => {
    await ensureDesignDoc(picas, 'beta');
    await bulkCreateTokens(picas, 'beta', [
      { id: 't_beta_a', fields: { manual_int: 0 } },
      { id: 't_beta_b', fields: { manual_int: 1024 } },
    ]);
    expect(await rowIds(picas, 'beta', 'todo')).toEqual(['t_beta_a', 't_beta_b']);
    expect(await rowIds(picas, 'beta', 'locked')).toEqual([]);
  });

  it("a custom view goes into _design/views:<type>, leaving _design/<type> and the claim's as they were", async () => {
    const typeRev = (await readDesignDoc(picas, 'beta'))?._rev;
    const claimRev = (await readClaimDesignDoc(picas, 'beta'))?._rev;
    const added = await addView(picas, 'beta', 'demo_view', 'doc.manual_int == 0 ');
    expect(added).toMatchObject({
      id: customDesignDocId('beta'),
      changed: true,
      replaced: false,
      legacy: [],
    });
    // Built before addView returned: the index answered an up-to-date read.
    expect(added.builds.map((b) => b.designDoc)).toEqual(['views:beta']);
    expect(await rowIds(picas, 'views:beta', 'demo_view')).toEqual(['t_beta_a']);
    expect((await readDesignDoc(picas, 'beta'))?._rev).toBe(typeRev);
    expect((await readClaimDesignDoc(picas, 'beta'))?._rev).toBe(claimRev);
    expect(Object.keys((await readDesignDoc(picas, 'beta'))?.views ?? {})).not.toContain('demo_view');

    const again = await ensureDesignDoc(picas, 'beta');
    expect(again.changed).toBe(false);
    expect(await rowIds(picas, 'views:beta', 'demo_view')).toEqual(['t_beta_a']);
    expect(await rowIds(picas, 'beta', 'todo')).toEqual(['t_beta_a', 't_beta_b']);

    const names = (await listViews(picas, 'beta')).map((v) => [v.name, v.standard, v.designDoc]);
    expect(names).toContainEqual(['demo_view', false, '_design/views:beta']);
    expect(names).toContainEqual(['todo', true, '_design/beta']);
    // Readers (tokens list --view, bulk sources) find it in its own design document.
    expect(await resolveView(picas, 'beta', 'demo_view')).toMatchObject({ designDoc: 'views:beta' });
  });

  it('redefining a custom view replaces it through a staged copy; the same definition writes nothing', async () => {
    await addView(picas, 'beta', 'other_view', 'doc.manual_int >= 0');
    const replaced = await addView(picas, 'beta', 'demo_view', 'doc.manual_int > 0');
    expect(replaced.replaced).toBe(true);
    // The design document already served views: the copy was built first, then the document itself.
    expect(replaced.builds.map((b) => b.designDoc)).toEqual(['next:views:beta', 'views:beta']);
    expect(await readDesignDocById(picas, stagingDesignDocId(customDesignDocId('beta')))).toBeUndefined();
    expect(await rowIds(picas, 'views:beta', 'demo_view')).toEqual(['t_beta_b']);
    expect(await rowIds(picas, 'views:beta', 'other_view')).toEqual(['t_beta_a', 't_beta_b']);
    const same = await addView(picas, 'beta', 'demo_view', 'doc.manual_int > 0');
    expect(same.changed).toBe(false);
    expect(same.rev).toBe(replaced.rev);
    const removed = await removeView(picas, 'beta', 'other_view');
    expect(removed).toMatchObject({ from: customDesignDocId('beta'), changed: true });
    expect(Object.keys((await readCustomDesignDoc(picas, 'beta'))?.views ?? {})).toEqual(['demo_view']);
    await expect(removeView(picas, 'beta', 'other_view')).rejects.toThrow(/other_view.*not found/);
    await expect(removeView(picas, 'beta', 'todo')).rejects.toThrow(/standard view/);
  });

  it('migrates custom views of an older version out of _design/<type>, new place first, todo kept', async () => {
    await ensureDesignDoc(picas, 'old');
    await bulkCreateTokens(picas, 'old', [
      { id: 't_old_a', fields: { manual_int: 0 } },
      { id: 't_old_b', fields: { manual_int: 1 } },
    ]);
    // As versions before _design/views:<type> wrote it: the custom view next to todo.
    const legacyDoc = await readDesignDoc(picas, 'old');
    const legacyView = conditionView('old', 'doc.manual_int == 1');
    await picas.db.insert({ ...legacyDoc!, views: { ...legacyDoc!.views, mine: legacyView } } as never);
    expect(await resolveView(picas, 'old', 'mine')).toMatchObject({ designDoc: 'old' });
    const added = await addView(picas, 'old', 'fresh', 'doc.manual_int == 0');
    expect(added.legacy).toEqual(['mine']);

    const moved = await migrateCustomViews(picas, 'old');
    expect(moved.moved).toEqual(['mine']);
    expect(moved.custom.changed).toBe(true);
    expect(moved.typeDoc.changed).toBe(true);
    // New place built first; then _design/<type> through its staged copy, then itself.
    expect([...moved.custom.builds, ...moved.typeDoc.builds].map((b) => b.designDoc)).toEqual([
      'next:views:old',
      'views:old',
      'next:old',
      'old',
    ]);
    const typeViews = (await readDesignDoc(picas, 'old'))?.views ?? {};
    expect(Object.keys(typeViews)).toEqual(Object.keys(legacyDoc!.views));
    expect(typeViews.todo).toEqual(legacyDoc!.views.todo);
    expect(await readDesignDocById(picas, stagingDesignDocId(designDocId('old')))).toBeUndefined();
    expect(await resolveView(picas, 'old', 'mine')).toMatchObject({ designDoc: 'views:old' });
    expect(await rowIds(picas, 'views:old', 'mine')).toEqual(['t_old_b']);
    expect(await rowIds(picas, 'old', 'todo')).toEqual(['t_old_a', 't_old_b']);
    const again = await migrateCustomViews(picas, 'old');
    expect(again).toMatchObject({ moved: [], custom: { changed: false }, typeDoc: { changed: false } });
  });

  it('refuses standard view names, bad names and conditions that do not parse, writing nothing', async () => {
    const before = (await readCustomDesignDoc(picas, 'beta'))?._rev;
    const attempts: [string, string, string][] = [
      ['todo', 'doc.manual_int == 0', 'todo'],
      ['overview_total', 'true', 'overview_total'],
      ['1view', 'true', '1view'],
      ['my-view', 'true', 'my-view'],
      ['broken', 'doc.manual_int == ', 'not a JavaScript expression'],
      ['sneaky', 'true) { emit(1, 1); } if (true', 'not a JavaScript expression'],
      ['empty', '  ', 'empty'],
      ['commented', 'doc.manual_int == 0 // zero only', 'not a JavaScript expression'],
    ];
    for (const [name, condition, mentions] of attempts) {
      const err = await addView(picas, 'beta', name, condition).catch((e: unknown) => e);
      expect(isLrtError(err, 'E_USAGE'), `${name}: ${String(err)}`).toBe(true);
      expect((err as Error).message).toContain(mentions);
    }
    expect((await readCustomDesignDoc(picas, 'beta'))?._rev).toBe(before);
  });

  it('a custom view on a type without design docs writes only _design/views:<type>', async () => {
    await addView(picas, 'gamma', 'mine', 'doc.x == 1');
    expect(await readDesignDoc(picas, 'gamma')).toBeUndefined();
    expect(Object.keys((await readCustomDesignDoc(picas, 'gamma'))?.views ?? {})).toEqual(['mine']);
  });

  it('concurrent writers of the custom views all land (409 re-read and re-merge)', async () => {
    const names = ['v1', 'v2', 'v3', 'v4', 'v5', 'v6'];
    await Promise.all([
      ...names.map((n, i) => addView(picas, 'delta', n, `doc.n == ${i}`)),
      ensureDesignDoc(picas, 'delta'),
      ensureDesignDoc(picas, 'delta'),
    ]);
    expect(Object.keys((await readDesignDoc(picas, 'delta'))?.views ?? {}).sort()).toEqual(
      [...SPEC_VIEWS].sort(),
    );
    expect(Object.keys((await readCustomDesignDoc(picas, 'delta'))?.views ?? {}).sort()).toEqual(names);
  });

  it("clearViews removes the custom views only; with all, every view and the claim's", async () => {
    const typeRev = (await readDesignDoc(picas, 'beta'))?._rev;
    const custom = await clearViews(picas, 'beta');
    expect(custom).toMatchObject({ removed: ['demo_view'], legacyRemoved: [], claimRemoved: [] });
    expect((await readDesignDoc(picas, 'beta'))?._rev).toBe(typeRev);
    expect((await listViews(picas, 'beta')).map((v) => v.name).sort()).toEqual([...SPEC_VIEWS].sort());

    await addView(picas, 'beta', 'demo_view', 'true');
    const cleared = await clearViews(picas, 'beta', { all: true });
    expect(cleared.removed.sort()).toEqual([...SPEC_VIEWS, 'demo_view'].sort());
    // The claim's view too: with it left, pilots would go on claiming from a type without views.
    expect(cleared.claimRemoved).toEqual(CLAIM_VIEWS);
    expect(await listViews(picas, 'beta')).toEqual([]);
    expect((await readClaimDesignDoc(picas, 'beta'))?.views).toEqual({});
    const nothing = await clearViews(picas, 'beta', { all: true });
    expect(nothing).toMatchObject({ changed: false, removed: [], claimRemoved: [] });

    await ensureDesignDoc(picas, 'beta');
    expect((await listViews(picas, 'beta')).map((v) => v.name).sort()).toEqual([...SPEC_VIEWS].sort());
    expect(Object.keys((await readClaimDesignDoc(picas, 'beta'))?.views ?? {})).toEqual(CLAIM_VIEWS);
    expect(await listViews(picas, 'nosuchtype')).toEqual([]);
  });
});

describe('ensureDatabase', () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase('lrt_ensure');
  });
  afterAll(async () => testDb?.drop());

  it('creates a missing database, then finds it', async () => {
    const name = trackDatabase(`${testDb.name}_new`);
    const picas = picasFor(testDb, { database: name });
    expect(await ensureDatabase(picas)).toBe('created');
    expect(await ensureDatabase(picas)).toBe('exists');
    const info = await picas.server.db.get(name);
    expect(info.db_name).toBe(name);
  });

  it('a wrong password is E_DB_AUTH naming the user, never the password', async () => {
    const password = 'wrong-Secret-123';
    const err = await ensureDatabase(picasFor(testDb, { password })).catch((e: unknown) => e);
    expect(isLrtError(err, 'E_DB_AUTH')).toBe(true);
    expect((err as Error).message).toContain(`"${testDb.user}"`);
    expect((err as Error).message).not.toContain(password);
  });
});
