import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLrtError } from '../../src/core';
import { bulkUpdate } from '../../src/picas/bulkUpdate';
import type { PicasDb } from '../../src/picas/client';
import { idsSource } from '../../src/picas/sources';
import { type FieldChanges, fieldsPatch, updateTokens } from '../../src/picas/updateTokens';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import {
  base64,
  insertTokens,
  interleaved,
  makeTokens,
  openTestPicas,
  putTokenDesignDoc,
  readAllDocs,
  writeFields,
} from '../helpers/tokens';

const TYPE = 'lofar_upd';
let t: TestDatabase;
let picas: PicasDb;
let todo: string[];
let running: string[];

beforeEach(async () => {
  t = await createTestDatabase('lrt_upd');
  picas = openTestPicas(t);
  await putTokenDesignDoc(t, TYPE);
  const srm = { 'srm.txt': { content_type: 'text/plain', data: base64('srm://x/L1_SB000_uv.MS\n') } };
  const docs = [
    ...makeTokens(TYPE, 40, 'todo', { SBXloc: 'old.tar', _attachments: srm }, 0),
    ...makeTokens(TYPE, 2, 'running', { SBXloc: 'old.tar' }, 40),
  ];
  await insertTokens(t, docs);
  todo = docs.slice(0, 40).map((d) => d._id);
  running = docs.slice(40).map((d) => d._id);
});
afterEach(async () => {
  await t.drop();
});

const changes = (over: Partial<FieldChanges> = {}): FieldChanges => ({
  set: { SBXloc: 'new.tar' },
  unset: [],
  attachments: [],
  ...over,
});

describe('updateTokens', () => {
  it('sets and unsets fields on a view; a token a pilot runs is skipped unless asked', async () => {
    const report = await updateTokens(picas, TYPE, { all: true }, changes({ unset: ['progress'] }));
    expect(report).toMatchObject({ changed: 40, skipped: 2, failed: [] });
    const docs = await readAllDocs(t);
    for (const id of todo) {
      expect(docs.get(id)?.SBXloc).toBe('new.tar');
      expect(docs.get(id)).not.toHaveProperty('progress');
      expect(Object.keys(docs.get(id)?._attachments ?? {})).toEqual(['srm.txt']);
    }
    for (const id of running) expect(docs.get(id)?.SBXloc).toBe('old.tar');
    const forced = await updateTokens(picas, TYPE, { view: 'locked' }, changes(), { includeRunning: true });
    expect(forced.changed).toBe(2);
    const again = await updateTokens(picas, TYPE, { all: true }, changes(), { includeRunning: true });
    expect(again).toMatchObject({ changed: 0, skipped: 42 });
  });

  it('adds an attachment inline next to the stubs; the same bytes again change nothing', async () => {
    const parset = { name: 'my.parset', contentType: 'text/plain', data: Buffer.from('msin=x\n') };
    const ids = todo.slice(0, 3);
    const first = await updateTokens(picas, TYPE, { ids }, changes({ set: {}, attachments: [parset] }));
    expect(first.changed).toBe(3);
    const docs = await readAllDocs(t);
    for (const id of ids)
      expect(Object.keys(docs.get(id)?._attachments ?? {}).sort()).toEqual(['my.parset', 'srm.txt']);
    const res = await fetch(`${t.baseUrl}/${t.name}/${ids[0]}/my.parset`, {
      headers: { authorization: `Basic ${Buffer.from(`${t.user}:${t.password}`).toString('base64')}` },
    });
    expect(await res.text()).toBe('msin=x\n');
    const second = await updateTokens(picas, TYPE, { ids }, changes({ set: {}, attachments: [parset] }));
    expect(second).toMatchObject({ changed: 0, skipped: 3 });
  });

  it('a token changed between our read and our write is re-read: both changes survive', async () => {
    const ids = todo.slice(0, 20);
    const touched = new Set<string>();
    const source = interleaved(idsSource(picas, TYPE, ids, { pageSize: 10 }), {
      afterPage: async (docs) => {
        // A heartbeat-like write on every other token, after we read it and before we write it.
        for (const doc of docs.filter((_, i) => i % 2 === 0)) {
          await writeFields(t, doc._id, { progress: 0.5 });
          touched.add(doc._id);
        }
      },
    });
    const report = await bulkUpdate(picas, source, fieldsPatch(changes()));
    expect(report).toMatchObject({ changed: 20, conflictsRetried: touched.size, failed: [] });
    const docs = await readAllDocs(t);
    for (const id of ids) {
      expect(docs.get(id)?.SBXloc).toBe('new.tar');
      expect(docs.get(id)?.progress).toBe(touched.has(id) ? 0.5 : 0);
    }
  });

  it('names ids that are no token of the type; refuses protocol fields before writing', async () => {
    const report = await updateTokens(picas, TYPE, { ids: [todo[0]!, 't_lofar_upd_nope'] }, changes());
    expect(report.changed).toBe(1);
    expect(report.failed).toEqual([
      {
        id: 't_lofar_upd_nope',
        error: `no token of type ${TYPE} with this id in ${picas.name}`,
        notFound: true,
      },
    ]);
    for (const field of ['status', 'lock', 'lease', '_rev']) {
      const err = await updateTokens(picas, TYPE, { all: true }, changes({ set: { [field]: 1 } })).catch(
        (e) => e,
      );
      expect(isLrtError(err, 'E_USAGE')).toBe(true);
      expect(err.message).toContain(`"${field}"`);
    }
    const both = await updateTokens(picas, TYPE, { all: true }, changes({ unset: ['SBXloc'] })).catch(
      (e) => e,
    );
    expect(both.message).toContain('both set and unset');
    expect((await readAllDocs(t)).get(todo[1]!)?.SBXloc).toBe('old.tar');
  });
});
