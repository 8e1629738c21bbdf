import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLrtError } from '../../src/core';
import { getAttachment } from '../../src/picas/attachments';
import { bulkCreateTokens, planBatches } from '../../src/picas/bulkCreate';
import { openPicas, type PicasDb } from '../../src/picas/client';
import {
  createToken,
  createTokensFromMap,
  createTokensFromSlices,
  tokensFromSlices,
} from '../../src/picas/create';
import { getToken, manualTokenId, type NewToken, sliceTokenId } from '../../src/picas/tokens';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';

const FIXTURES = join(__dirname, '../fixtures/picas');
const expected = JSON.parse(readFileSync(join(FIXTURES, 'srmlist_expected.json'), 'utf8'))[
  'srm_50_sara.txt'
] as {
  obsid: string;
  slices: Record<string, Record<string, string[]>>;
};
const slices10 = expected.slices['10']!;

function picasFor(db: TestDatabase, password = db.password): PicasDb {
  return openPicas({ url: db.baseUrl, database: db.name, user: db.user, password });
}

async function revs(picas: PicasDb): Promise<Map<string, string>> {
  const all = await picas.db.list();
  return new Map(all.rows.filter((r) => !r.id.startsWith('_design/')).map((r) => [r.id, r.value.rev]));
}

/** Bytes that are not valid UTF-8 (and a NUL), so any text decoding on the way would show. */
function binaryBytes(seed: number): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, seed & 0xff]), randomBytes(64)]);
}

describe('token ids and documents (pure)', () => {
  it('slice ids follow GRID_LRT: t_<type>_<OBSID>_SB<nnn>', () => {
    expect(sliceTokenId('demo', 'L229507', '100')).toBe('t_demo_L229507_SB100');
    expect(sliceTokenId('demo', 'L229507', '5')).toBe('t_demo_L229507_SB005');
    expect(manualTokenId('jupyter_demo_x', 'manual')).toBe('t_jupyter_demo_x_manual');
  });

  it('one token per slice, with the slice as srm.txt and STARTSB/OBSID over the template', () => {
    const tokens = tokensFromSlices('demo', slices10, {
      obsid: expected.obsid,
      fields: { OBSID: 'L229585', PIPELINE_STEP: 'pref3_cal_CI' },
    });
    expect(tokens.map((t) => t.id)).toEqual(
      Object.keys(slices10).map((k) => `t_demo_${expected.obsid}_SB${k}`),
    );
    for (const token of tokens) {
      const key = token.id.slice(-3);
      expect(token.fields).toEqual({ OBSID: expected.obsid, PIPELINE_STEP: 'pref3_cal_CI', STARTSB: key });
      expect(token.attachments).toHaveLength(1);
      expect(token.attachments![0]!.name).toBe('srm.txt');
      expect(token.attachments![0]!.data.toString('utf8')).toBe(slices10[key]!.map((s) => `${s}\n`).join(''));
    }
  });

  it('batches by count and by size', () => {
    const sizes = [5, 5, 5, 5, 5];
    expect(planBatches(sizes, (s) => s, 2, 1000).map((b) => b.length)).toEqual([2, 2, 1]);
    expect(planBatches([4, 4, 4, 20, 1], (s) => s, 100, 10)).toEqual([[4, 4], [4], [20], [1]]);
  });
});

describe('bulk token creation', () => {
  let testDb: TestDatabase;
  let picas: PicasDb;
  beforeAll(async () => {
    testDb = await createTestDatabase('lrt_create');
    picas = picasFor(testDb);
  });
  afterAll(async () => testDb?.drop());

  const many: NewToken[] = Array.from({ length: 1203 }, (_, i) => ({
    id: `t_bulk_${String(i).padStart(5, '0')}`,
    fields: { n: i, status: 'queued' },
    attachments: [
      { name: 'srm.txt', contentType: 'text/plain', data: binaryBytes(i) },
      { name: 'extra.bin', contentType: 'application/octet-stream', data: Buffer.from([i % 256, 0, 255]) },
    ],
  }));

  it('creates every token in batches with its attachments, bytes verbatim', async () => {
    const progress: [number, number | undefined][] = [];
    const report = await bulkCreateTokens(picas, 'bulk', many, {
      batchSize: 500,
      onProgress: (done, total) => progress.push([done, total]),
    });
    expect(report.failed).toEqual([]);
    expect(report.existing).toEqual([]);
    expect(report.created.sort()).toEqual(many.map((t) => t.id));
    expect(progress).toEqual([
      [500, 1203],
      [1000, 1203],
      [1203, 1203],
    ]);
    expect((await revs(picas)).size).toBe(1203);

    for (const i of [0, 1, 499, 500, 777, 1202]) {
      const token = many[i]!;
      expect(await getAttachment(picas, token.id, 'srm.txt')).toEqual(token.attachments![0]!.data);
      expect(await getAttachment(picas, token.id, 'extra.bin')).toEqual(token.attachments![1]!.data);
    }
  });

  it('gives each token the skeleton of docs/token-format.md; caller fields win except type, lock, done', async () => {
    const doc = await getToken(picas, 't_bulk_00007');
    expect(doc).toMatchObject({ type: 'bulk', lock: 0, done: 0, status: 'queued', extra: { n: 7 } });
    expect(doc).toMatchObject({ hostname: '', scrub_count: 0, output: '', progress: 0, times: {} });

    await createToken(picas, 'bulk', {
      id: 't_bulk_legacy',
      fields: { type: 'tutorial', lock: 5, done: 9, times: { now: 1000000 } },
    });
    const legacy = await getToken(picas, 't_bulk_legacy');
    expect(legacy).toMatchObject({ type: 'bulk', lock: 0, done: 0, status: 'todo', times: { now: 1000000 } });
  });

  it('a re-run reports existing tokens and changes nothing, even with other fields', async () => {
    const before = await revs(picas);
    const changed = many.map((t) => ({ ...t, fields: { n: -1 }, attachments: [] }));
    const report = await bulkCreateTokens(picas, 'bulk', changed);
    expect(report.created).toEqual([]);
    expect(report.failed).toEqual([]);
    expect(report.existing.sort()).toEqual(many.map((t) => t.id));
    expect(await revs(picas)).toEqual(before);
    expect((await getToken(picas, 't_bulk_00003')).extra.n).toBe(3);
    expect(await getAttachment(picas, 't_bulk_00003', 'srm.txt')).toEqual(many[3]!.attachments![0]!.data);
  });

  it('a partly new run creates only the new ones', async () => {
    const report = await bulkCreateTokens(picas, 'bulk', [
      { id: 't_bulk_00000' },
      { id: 't_bulk_new_1' },
      { id: 't_bulk_00001' },
      { id: 't_bulk_new_2' },
    ]);
    expect(report).toEqual({
      created: ['t_bulk_new_1', 't_bulk_new_2'],
      existing: ['t_bulk_00000', 't_bulk_00001'],
      failed: [],
      counts: { created: 2, existing: 2, failed: 0 },
    });
  });

  it('reports tokens the server refuses as failed, next to the created ones', async () => {
    await picas.db.insert({
      _id: '_design/guard',
      validate_doc_update: 'function (doc) { if (doc.refuse) throw { forbidden: "refused by guard" }; }',
    } as never);
    const report = await bulkCreateTokens(picas, 'bulk', [
      { id: 't_bulk_ok', fields: {} },
      { id: 't_bulk_refused', fields: { refuse: true } },
    ]);
    expect(report.created).toEqual(['t_bulk_ok']);
    expect(report.failed).toHaveLength(1);
    expect(report.failed[0]!.id).toBe('t_bulk_refused');
    expect(report.failed[0]!.error).toContain('forbidden');
  });

  it('validates ids, fields and attachment names before writing anything', async () => {
    const before = (await revs(picas)).size;
    const bad: [NewToken[], string, string][] = [
      [[{ id: 't_ok_1' }, { id: '_bad' }], 'E_USAGE', '_bad'],
      [[{ id: 't_ok_1' }, { id: 'has space' }], 'E_USAGE', 'has space'],
      [[{ id: 't_ok_1' }, { id: 't_ok_1' }], 'E_USAGE', 't_ok_1'],
      [[{ id: 't_ok_1', fields: { _rev: '1-x' } }], 'E_USAGE', '_rev'],
      [
        [{ id: 't_ok_1', attachments: [{ name: 'a/b', contentType: 'text/plain', data: Buffer.from('x') }] }],
        'E_ATTACHMENT',
        'a/b',
      ],
      [
        [{ id: 't_ok_1', attachments: [{ name: '', contentType: 'text/plain', data: Buffer.from('x') }] }],
        'E_ATTACHMENT',
        'empty',
      ],
      [
        [{ id: 't_ok_1', attachments: [{ name: '_x', contentType: 'text/plain', data: Buffer.from('x') }] }],
        'E_ATTACHMENT',
        '_x',
      ],
    ];
    for (const [tokens, code, mentions] of bad) {
      const err = await bulkCreateTokens(picas, 'bulk', tokens).catch((e: unknown) => e);
      expect(isLrtError(err), String(err)).toBe(true);
      expect((err as { code: string }).code).toBe(code);
      expect((err as Error).message).toContain(mentions);
    }
    expect((await revs(picas)).size).toBe(before);
  });

  it('a wrong password is E_DB_AUTH naming the user, not the password', async () => {
    const password = 'not-the-Password-42';
    const err = await bulkCreateTokens(picasFor(testDb, password), 'bulk', [{ id: 't_x' }]).catch(
      (e: unknown) => e,
    );
    expect(isLrtError(err, 'E_DB_AUTH')).toBe(true);
    expect((err as Error).message).toContain(testDb.user);
    expect((err as Error).message).not.toContain(password);
  });
});

describe('GRID_LRT-style creation helpers', () => {
  let testDb: TestDatabase;
  let picas: PicasDb;
  beforeAll(async () => {
    testDb = await createTestDatabase('lrt_slices');
    picas = picasFor(testDb);
  });
  afterAll(async () => testDb?.drop());

  it('createTokensFromSlices makes one token per slice with its srm.txt', async () => {
    const report = await createTokensFromSlices(picas, 'demo', slices10, { obsid: expected.obsid });
    expect(report.created).toHaveLength(Object.keys(slices10).length);
    for (const [key, surls] of Object.entries(slices10)) {
      const id = `t_demo_${expected.obsid}_SB${key}`;
      expect(await getToken(picas, id)).toMatchObject({
        type: 'demo',
        extra: { STARTSB: key, OBSID: expected.obsid },
      });
      expect(
        (await getAttachment(picas, id, 'srm.txt')).toString('utf8').split('\n').filter(Boolean),
      ).toEqual(surls);
    }
  });

  it('createTokensFromMap is create_dict_tokens: key field, attached values', async () => {
    const report = await createTokensFromMap(
      picas,
      'nb',
      { '140': slices10['140'], '150': slices10['150'] },
      { keyName: 'start_SB', fileUpload: 'srm.txt', idAppend: 'L345916' },
    );
    expect(report.created.sort()).toEqual(['t_nb_L345916_SB140', 't_nb_L345916_SB150']);
    expect((await getToken(picas, 't_nb_L345916_SB150')).extra.start_SB).toBe('150');
    const text = (await getAttachment(picas, 't_nb_L345916_SB140', 'srm.txt')).toString('utf8');
    expect(text.trimEnd().split('\n')).toEqual(slices10['140']);
  });

  it('a manual token with an attachment, created once', async () => {
    const id = manualTokenId('nb', 'manual_with_attach');
    const srm = readFileSync(join(FIXTURES, 'srm_50_sara.txt'));
    const token: NewToken = {
      id,
      fields: { manual_key: 'manual_value', manual_int: 0 },
      attachments: [{ name: 'srm_at_token_create.txt', contentType: 'text/plain', data: srm }],
    };
    expect((await createToken(picas, 'nb', token)).created).toEqual([id]);
    expect((await createToken(picas, 'nb', token)).existing).toEqual([id]);
    expect(await getAttachment(picas, id, 'srm_at_token_create.txt')).toEqual(srm);
  });
});
