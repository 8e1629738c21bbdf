import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conditionOf } from '../../src/cli/commands/views';
import { openPicas, type PicasDb } from '../../src/picas/client';
import { readDesignDoc } from '../../src/picas/designDocStore';
import { conditionView } from '../../src/picas/viewDefinitions';
import { lrt } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';

function envFor(db: TestDatabase, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    PICAS_URL: db.baseUrl,
    PICAS_DB: db.name,
    PICAS_USR: db.user,
    PICAS_USR_PWD: db.password,
    ...overrides,
  };
}

describe('lrt views', () => {
  let testDb: TestDatabase;
  let picas: PicasDb;
  beforeAll(async () => {
    testDb = await createTestDatabase('lrt_cli_views');
    picas = openPicas({
      url: testDb.baseUrl,
      database: testDb.name,
      user: testDb.user,
      password: testDb.password,
    });
    const res = await lrt(
      ['tokens', 'create', '--type', 'demo', '--id-suffix', 'zero', '--set', 'manual_key=a'],
      { env: envFor(testDb) },
    );
    expect(res.exitCode).toBe(0);
    await lrt(['tokens', 'create', '--type', 'demo', '--id-suffix', 'other', '--set', 'manual_key=b'], {
      env: envFor(testDb),
    });
  });
  afterAll(async () => testDb?.drop());

  it('adds a custom view that selects tokens by its condition', async () => {
    const res = await lrt(
      ['views', 'add', '--type', 'demo', '--name', 'demo_view', '--condition', 'doc.manual_key == "a"'],
      { env: envFor(testDb) },
    );
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain('demo_view');
    expect(res.stdout).toMatch(/index built in [0-9.]+ s \(1 row\)/);
    const rows = await picas.db.view('views:demo', 'demo_view');
    expect(rows.rows.map((r) => r.id)).toEqual(['t_demo_zero']);
    // tokens list --view finds it in its own design document.
    const listed = await lrt(['tokens', 'list', '--type', 'demo', '--view', 'demo_view', '--json'], {
      env: envFor(testDb),
    });
    expect(listed.exitCode).toBe(0);
    expect(listed.stdout).toContain('t_demo_zero');
    expect(listed.stdout).not.toContain('t_demo_other');
  });

  it('views add --json reports the index it built; the embedded server shows no progress, and says so', async () => {
    const res = await lrt(
      [
        'views',
        'add',
        '--type',
        'demo',
        '--name',
        'second',
        '--condition',
        'doc.manual_key == "b"',
        '--json',
      ],
      { env: envFor(testDb) },
    );
    expect(res.exitCode).toBe(0);
    const out = JSON.parse(res.stdout);
    expect(out).toMatchObject({ type: 'demo', id: '_design/views:demo', changed: true, legacy: [] });
    // The custom design doc served demo_view already: a staged copy was built first.
    expect(out.builds.map((b: { designDoc: string }) => b.designDoc)).toEqual([
      '_design/next:views:demo',
      '_design/views:demo',
    ]);
    // The new view itself is read (the embedded server indexes each view apart), not the first one.
    expect(out.builds.map((b: { view: string }) => b.view)).toEqual(['second', 'second']);
    expect(out.builds.at(-1)).toMatchObject({ rows: 1, progressReported: false });
    const removed = await lrt(['views', 'remove', '--type', 'demo', '--name', 'second', '--json'], {
      env: envFor(testDb),
    });
    expect(removed.exitCode).toBe(0);
    expect(JSON.parse(removed.stdout)).toMatchObject({ from: '_design/views:demo', changed: true });
  });

  it('lists standard and custom views with the custom condition', async () => {
    const res = await lrt(['views', 'list', '--type', 'demo', '--json'], { env: envFor(testDb) });
    expect(res.exitCode).toBe(0);
    const views = JSON.parse(res.stdout).views as {
      name: string;
      standard: boolean;
      condition: string | null;
    }[];
    expect(views.find((v) => v.name === 'demo_view')).toMatchObject({
      standard: false,
      condition: 'doc.manual_key == "a"',
    });
    expect(views.find((v) => v.name === 'todo')).toMatchObject({ standard: true });
    const human = await lrt(['views', 'list', '--type', 'demo'], { env: envFor(testDb) });
    expect(human.stdout).toMatch(/demo_view\s+custom\s+doc\.manual_key == "a"/);
  });

  it('refuses to redefine a standard view (exit 2) and leaves the design doc alone', async () => {
    const before = (await readDesignDoc(picas, 'demo'))?._rev;
    const res = await lrt(['views', 'add', '--type', 'demo', '--name', 'todo', '--condition', 'true'], {
      env: envFor(testDb),
    });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain('todo');
    expect((await readDesignDoc(picas, 'demo'))?._rev).toBe(before);
  });

  it('clear removes the custom views only; --all every view, and the next tokens create brings the standard ones back', async () => {
    const typeRev = (await readDesignDoc(picas, 'demo'))?._rev;
    const custom = await lrt(['views', 'clear', '--type', 'demo', '--json'], { env: envFor(testDb) });
    expect(custom.exitCode).toBe(0);
    expect(JSON.parse(custom.stdout).removed).toEqual(['demo_view']);
    expect((await readDesignDoc(picas, 'demo'))?._rev).toBe(typeRev);

    await lrt(['views', 'add', '--type', 'demo', '--name', 'demo_view', '--condition', 'true'], {
      env: envFor(testDb),
    });
    // --all stops the fleet: it asks for --yes, and without it nothing is removed.
    const unasked = await lrt(['views', 'clear', '--type', 'demo', '--all'], { env: envFor(testDb) });
    expect(unasked.exitCode).toBe(2);
    expect(unasked.stderr).toContain('refusing to remove every view without --yes');
    expect(Object.keys((await readDesignDoc(picas, 'demo'))?.views ?? {})).toContain('todo');

    const cleared = await lrt(['views', 'clear', '--type', 'demo', '--all', '--yes', '--json'], {
      env: envFor(testDb),
    });
    expect(cleared.exitCode).toBe(0);
    expect(JSON.parse(cleared.stdout).removed).toContain('demo_view');
    expect(JSON.parse(cleared.stdout).removed).toContain('todo');
    expect(Object.keys((await readDesignDoc(picas, 'demo'))?.views ?? {})).toEqual([]);

    await lrt(['tokens', 'create', '--type', 'demo', '--id-suffix', 'zero'], { env: envFor(testDb) });
    const names = Object.keys((await readDesignDoc(picas, 'demo'))?.views ?? {});
    expect(names).toContain('todo');
    expect(names).not.toContain('demo_view');
  });

  it('a missing database exits 5 naming it; a missing --type exits 2', async () => {
    const missing = await lrt(['views', 'list', '--type', 'demo'], {
      env: envFor(testDb, { PICAS_DB: 'no_such_db' }),
    });
    expect(missing.exitCode).toBe(5);
    expect(missing.stderr).toContain('no_such_db');
    expect((await lrt(['views', 'list'], { env: envFor(testDb) })).exitCode).toBe(2);
  });

  it('reads the condition back out of a generated view', () => {
    const condition = 'doc.a == 1 && (doc.b > 2)';
    expect(conditionOf(conditionView('demo', condition).map)).toBe(condition);
    expect(conditionOf('function (doc) { emit(doc._id, 1); }')).toBeUndefined();
  });
});
