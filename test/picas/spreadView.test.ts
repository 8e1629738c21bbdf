import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimDesignDocId, SPREAD_KEYS, SPREAD_VIEW, spreadKey } from '../../src/picas/viewDefinitions';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import { bulkDocs, putDesignDoc, tokenDocs } from '../helpers/seedTokens';

/** `todo_spread` of `_design/claim:<type>`: the tokens of `todo`, keyed by spreadKey(_id), the id as value. */

const TYPE = 'spread';
let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase('lrt_spread');
});
afterAll(async () => t?.drop());

async function rows(): Promise<Array<{ id: string; key: number; value: string }>> {
  const res = await fetch(`${t.baseUrl}/${t.name}/${claimDesignDocId(TYPE)}/_view/${SPREAD_VIEW}`, {
    headers: { authorization: `Basic ${Buffer.from(`${t.user}:${t.password}`).toString('base64')}` },
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return ((await res.json()) as { rows: Array<{ id: string; key: number; value: string }> }).rows;
}

describe('the todo_spread view', () => {
  it('lists the todo tokens under spreadKey(_id), spread evenly over the keys', async () => {
    await putDesignDoc(t, TYPE);
    const all = tokenDocs(TYPE, 404);
    const free = all.slice(0, 400);
    // Staging, locked, finished, another type: not in todo, not in todo_spread.
    const changes = [{ status: 'staging' }, { lock: 5 }, { lock: 5, done: 6 }, { type: 'other' }];
    const others = all.slice(400).map((doc, i) => ({ ...doc, ...changes[i] }));
    await bulkDocs(t, [...free, ...others]);

    const listed = await rows();
    expect(listed.map((r) => r.id).sort()).toEqual(free.map((d) => d._id).sort());
    for (const row of listed) {
      expect(row.key).toBe(spreadKey(row.id));
      expect(row.value).toBe(row.id);
    }
    // Ids that differ in their last characters only land all over the key range: each quarter
    // holds about a quarter of them.
    const quarters = [0, 0, 0, 0];
    for (const row of listed) quarters[Math.floor((row.key / SPREAD_KEYS) * 4)]!++;
    for (const n of quarters) expect(n).toBeGreaterThan(60);
    expect(listed.every((r) => Number.isInteger(r.key) && r.key >= 0 && r.key < SPREAD_KEYS)).toBe(true);
  });

  it('computes the same keys as 32-bit integer arithmetic would (no precision lost)', () => {
    // FNV-1a with Math.imul, then murmur3's finaliser: the reference the view's own code must match.
    const reference = (id: string) => {
      let h = 2166136261;
      for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619) >>> 0;
      h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
      h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
      return (h ^ (h >>> 16)) >>> 0;
    };
    for (const id of ['', 'a', 't_x_L345916_SB000', 'ünïcode-☃', 'x'.repeat(500)]) {
      expect(spreadKey(id)).toBe(reference(id));
    }
  });
});
