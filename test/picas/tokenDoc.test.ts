import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type StoredToken,
  tokenFromDoc,
  tokenToDoc,
  withFields,
  withoutFields,
} from '../../src/picas/tokenDoc';

/** Tokens as GRID_LRT, picasclient and grid-lrt stored them (test/fixtures/*). */
function storedFixtures(): [string, StoredToken][] {
  const dirs = ['pythonTools', 'tokensManage'].map((d) => join(__dirname, '../fixtures', d));
  return dirs.flatMap((dir) =>
    readdirSync(dir)
      .filter((name) => name.endsWith('.json'))
      .map((name): [string, StoredToken] => [name, JSON.parse(readFileSync(join(dir, name), 'utf8'))])
      .filter(([, doc]) => typeof doc._id === 'string' && typeof doc.type === 'string'),
  );
}

const LEASE = { id: 'L1', pilot: 'p', host: 'wn-1', expires: 200, renewed: 100, attempt: 1, lock: 100 };

/** A token as the wire holds it: known fields beside the user's, one of them named like nothing we know. */
const wire: StoredToken = {
  _id: 't_x_L1_SB000',
  _rev: '3-abc',
  type: 'x',
  lock: 100,
  done: 0,
  status: 'running',
  lease: LEASE,
  times: { locked: 100 },
  error: 'an older tool wrote a single value',
  'config.json': { variables: { _token_keys: { $OBSID: 'OBSID' } } },
  OBSID: 'L1',
  STARTSB: '000',
  zq_never_heard_of_it: { nested: [1, 'two', null] },
  extra: 'a user field that happens to be called extra',
};

describe('tokenFromDoc / tokenToDoc', () => {
  it('types the known fields and keeps every other field in extra', () => {
    const token = tokenFromDoc(wire);
    expect(token.lease).toEqual(LEASE);
    expect(token.times).toEqual({ locked: 100 });
    expect(token['config.json']).toEqual(wire['config.json']);
    expect(token.extra).toEqual({
      OBSID: 'L1',
      STARTSB: '000',
      zq_never_heard_of_it: { nested: [1, 'two', null] },
      extra: 'a user field that happens to be called extra',
    });
    expect(Object.keys(token).sort()).toEqual(
      [
        '_id',
        '_rev',
        'type',
        'lock',
        'done',
        'status',
        'lease',
        'times',
        'error',
        'config.json',
        'extra',
      ].sort(),
    );
  });

  it('gives back the flat document it was read from, field for field', () => {
    expect(tokenToDoc(tokenFromDoc(wire))).toStrictEqual(wire);
    const fixtures = storedFixtures();
    expect(fixtures.length).toBeGreaterThan(2);
    for (const [name, doc] of fixtures) {
      expect(tokenToDoc(tokenFromDoc(structuredClone(doc))), name).toStrictEqual(doc);
    }
  });

  it('writes a user field back at the top level and leaves out undefined fields, as JSON does', () => {
    const token = { ...tokenFromDoc(wire), lease: undefined, extra: { OBSID: 'L2' } };
    const doc = tokenToDoc(token);
    expect(doc.OBSID).toBe('L2');
    expect('lease' in doc).toBe(false);
    expect('extra' in doc).toBe(false);
  });

  it('lets the known field win over an extra entry of the same name', () => {
    const token = { ...tokenFromDoc(wire), extra: { status: 'from extra', mine: 1 } };
    expect(tokenToDoc(token)).toMatchObject({ status: 'running', mine: 1 });
  });

  it('does not change the document it reads', () => {
    const copy = structuredClone(wire);
    tokenToDoc(tokenFromDoc(copy));
    expect(copy).toStrictEqual(wire);
  });
});

describe('fields by name', () => {
  it('sets known fields typed and the rest in extra, and removes either kind', () => {
    const token = withFields(tokenFromDoc(wire), { status: 'done', Results_size: 7, PIPELINE: 'pref' });
    expect(token.status).toBe('done');
    expect(token.Results_size).toBe(7);
    expect(token.extra.PIPELINE).toBe('pref');
    expect('PIPELINE' in token).toBe(false);
    const without = withoutFields(token, ['lease', 'OBSID']);
    expect('lease' in without).toBe(false);
    expect('OBSID' in without.extra).toBe(false);
    expect(without.extra.STARTSB).toBe('000');
  });
});
