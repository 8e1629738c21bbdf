import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLrtError } from '../../src/core';
import {
  addAttachment,
  contentTypeFor,
  getAttachment,
  listAttachments,
  readAttachment,
} from '../../src/picas/attachments';
import { bulkCreateTokens } from '../../src/picas/bulkCreate';
import { openPicas, type PicasDb } from '../../src/picas/client';
import { getToken } from '../../src/picas/tokens';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';

const FIXTURES = join(__dirname, '../fixtures/picas');

describe('token attachments', () => {
  let testDb: TestDatabase;
  let picas: PicasDb;
  let dir: string;
  beforeAll(async () => {
    testDb = await createTestDatabase('lrt_attach');
    picas = openPicas({
      url: testDb.baseUrl,
      database: testDb.name,
      user: testDb.user,
      password: testDb.password,
    });
    dir = mkdtempSync(join(tmpdir(), 'lrt-attach-'));
    await bulkCreateTokens(picas, 'att', [
      { id: 't_att_1', fields: { keep: 'me' } },
      { id: 't_att_2' },
      { id: 't_att_busy' },
    ]);
  });
  afterAll(async () => {
    await testDb?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('adds a file by path and lists it with content type and length; bytes come back verbatim', async () => {
    const path = join(FIXTURES, 'srm_50_sara.txt');
    const added = await addAttachment(picas, 't_att_1', 'srm.txt', { path });
    expect(added.replaced).toBe(false);
    const bytes = readFileSync(path);
    expect(await listAttachments(picas, 't_att_1')).toEqual([
      { name: 'srm.txt', contentType: 'text/plain', length: bytes.length },
    ]);
    expect(await getAttachment(picas, 't_att_1', 'srm.txt')).toEqual(bytes);
    expect((await getToken(picas, 't_att_1')).extra.keep).toBe('me');
  });

  it('keeps bytes that are not UTF-8 intact, also under a text/plain content type', async () => {
    const bytes = Buffer.from([0x68, 0x69, 0x0a, 0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80, 0x0d, 0x0a]);
    const file = join(dir, 'weird.parset');
    writeFileSync(file, bytes);
    await addAttachment(picas, 't_att_2', 'weird.parset', { path: file });
    const read = await readAttachment(picas, 't_att_2', 'weird.parset');
    expect(read.info.contentType).toBe('text/plain');
    expect(read.data).toEqual(bytes);

    const blob = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await addAttachment(picas, 't_att_2', 'all-bytes', blob, 'application/octet-stream');
    expect(await getAttachment(picas, 't_att_2', 'all-bytes')).toEqual(blob);
    expect((await listAttachments(picas, 't_att_2')).map((a) => a.name)).toEqual([
      'all-bytes',
      'weird.parset',
    ]);
  });

  it('replaces an attachment of the same name', async () => {
    const result = await addAttachment(picas, 't_att_2', 'all-bytes', Buffer.from('second'), 'text/plain');
    expect(result.replaced).toBe(true);
    expect((await getAttachment(picas, 't_att_2', 'all-bytes')).toString()).toBe('second');
  });

  it('concurrent writers on one token all land (409: re-read the rev and retry after a jittered wait)', async () => {
    // Eight at once: without the wait between rounds, racers on the cluster stand-in used up their rounds.
    const names = ['a.txt', 'b.txt', 'c.txt', 'd.txt', 'e.txt', 'f.txt', 'g.txt', 'h.txt'];
    await Promise.all(names.map((n) => addAttachment(picas, 't_att_busy', n, Buffer.from(`data of ${n}`))));
    expect((await listAttachments(picas, 't_att_busy')).map((a) => a.name)).toEqual(names);
    for (const n of names)
      expect((await getAttachment(picas, 't_att_busy', n)).toString()).toBe(`data of ${n}`);
  });

  it('errors name the token and the attachment', async () => {
    const noToken = await getAttachment(picas, 't_att_missing', 'srm.txt').catch((e: unknown) => e);
    expect(isLrtError(noToken, 'E_TOKEN_NOT_FOUND')).toBe(true);
    expect((noToken as Error).message).toContain('t_att_missing');

    const noAtt = await getAttachment(picas, 't_att_1', 'nope.txt').catch((e: unknown) => e);
    expect(isLrtError(noAtt, 'E_ATTACHMENT')).toBe(true);
    expect((noAtt as Error).message).toContain('t_att_1');
    expect((noAtt as Error).message).toContain('nope.txt');
    expect((noAtt as Error).message).toContain('srm.txt');

    const addToMissing = await addAttachment(picas, 't_att_missing', 'x.txt', Buffer.from('x')).catch(
      (e) => e,
    );
    expect(isLrtError(addToMissing, 'E_TOKEN_NOT_FOUND')).toBe(true);

    const badName = await addAttachment(picas, 't_att_1', 'dir/x.txt', Buffer.from('x')).catch((e) => e);
    expect(isLrtError(badName, 'E_ATTACHMENT')).toBe(true);
    expect((badName as Error).message).toContain('dir/x.txt');

    const noFile = await addAttachment(picas, 't_att_1', 'x.txt', { path: join(dir, 'absent') }).catch(
      (e) => e,
    );
    expect(isLrtError(noFile, 'E_NOT_FOUND')).toBe(true);
    expect((noFile as Error).message).toContain(join(dir, 'absent'));

    const noDb = openPicas({ ...picas.settings, database: `${testDb.name}_absent` });
    const dbErr = await getToken(noDb, 't_att_1').catch((e: unknown) => e);
    expect(isLrtError(dbErr, 'E_DB_NOT_FOUND')).toBe(true);
  });

  it('guesses content types from names', () => {
    expect(contentTypeFor('srm.txt')).toBe('text/plain');
    expect(contentTypeFor('Pre-Facet-Calibrator-v3.parset')).toBe('text/plain');
    expect(contentTypeFor('config.json')).toBe('application/json');
    expect(contentTypeFor('blob')).toBe('application/octet-stream');
  });
});
