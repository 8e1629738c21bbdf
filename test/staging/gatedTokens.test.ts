import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PicasDb } from '../../src/picas/client';
import { ensureDesignDoc } from '../../src/picas/designDocStore';
import {
  createStagerClient,
  markStaging,
  resolveStagerSettings,
  submitAndMarkStaging,
} from '../../src/staging';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import { getDoc, picasFor, viewIds } from '../helpers/seedTokens';
import { type StagerDouble, startStagerServer } from '../helpers/stagerServer';
import { plannedTokens, SURLS } from './tokens';

let db: TestDatabase;
let picas: PicasDb;
let server: StagerDouble;
let type: string;
let n = 0;

beforeAll(async () => {
  db = await createTestDatabase('lrt_staging_gate');
  picas = picasFor(db);
});
afterAll(() => db.drop());
beforeEach(async () => {
  server = await startStagerServer();
  type = `gate${++n}`;
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

describe('submitAndMarkStaging', () => {
  it('stages every SURL of the new tokens in one request and creates them in staging, out of todo', async () => {
    const tokens = plannedTokens(type);
    const report = await submitAndMarkStaging(picas, type, tokens, {
      stager: stager(),
      now: () => 1_700_000_000,
    });
    const adds = server.calls.filter((c) => c.method === 'LtaStager.add_getid');
    expect(adds).toHaveLength(1);
    expect(adds[0]!.params[0]).toEqual(SURLS);
    const id = [...server.requests.keys()][0]!;
    expect(report).toMatchObject({
      created: tokens.map((t) => t.id),
      existing: [],
      failed: [],
      requests: [id],
      surls: SURLS.length,
    });

    const doc = await getDoc(db, tokens[0]!.id);
    expect(doc).toMatchObject({
      status: 'staging',
      lock: 0,
      done: 0,
      staging: { requests: [id], submitted: 1_700_000_000 },
      times: { staging: 1_700_000_000 },
    });
    expect(await viewIds(db, type, 'todo')).toEqual([]);
    expect(await viewIds(db, type, 'overview_total', '?reduce=false&key=%22staging%22')).toHaveLength(
      tokens.length,
    );
  });

  it('re-running sends no new request for tokens that exist; new ones get their own', async () => {
    const tokens = plannedTokens(type);
    await submitAndMarkStaging(picas, type, tokens.slice(0, 2), { stager: stager() });
    const again = await submitAndMarkStaging(picas, type, tokens, { stager: stager() });
    const adds = server.calls.filter((c) => c.method === 'LtaStager.add_getid');
    expect(adds).toHaveLength(2);
    const secondSurls = tokens
      .slice(2)
      .flatMap((t) => t.attachments![0]!.data.toString().split('\n').filter(Boolean));
    expect(adds[1]!.params[0]).toEqual(secondSurls);
    expect(again.existing).toEqual(tokens.slice(0, 2).map((t) => t.id));
    expect(again.created).toEqual(tokens.slice(2).map((t) => t.id));

    const third = await submitAndMarkStaging(picas, type, tokens, { stager: stager() });
    expect(third).toMatchObject({ created: [], requests: [], surls: 0 });
    expect(server.calls.filter((c) => c.method === 'LtaStager.add_getid')).toHaveLength(2);
  });

  it('refuses tokens without SURLs before anything is sent', async () => {
    const bare = [{ id: `t_${type}_manual`, fields: {} }];
    await expect(submitAndMarkStaging(picas, type, bare, { stager: stager() })).rejects.toMatchObject({
      code: 'E_USAGE',
      message: expect.stringMatching(/carry no SURLs in srm\.txt \(t_gate\d+_manual\)/),
    });
    const badField = plannedTokens(type).map((t) => ({ ...t, fields: { ...t.fields, _bad: 1 } }));
    await expect(submitAndMarkStaging(picas, type, badField, { stager: stager() })).rejects.toMatchObject({
      code: 'E_USAGE',
    });
    expect(server.calls).toEqual([]);
  });

  it('keeps config times and fields when marking', () => {
    const [token] = plannedTokens('x');
    const marked = markStaging(
      { ...token!, fields: { ...token!.fields, times: { made: 5 }, status: 'todo' } },
      [7, 8],
      9,
    );
    expect(marked.fields).toMatchObject({
      status: 'staging',
      staging: { requests: [7, 8], submitted: 9 },
      times: { made: 5, staging: 9 },
    });
    expect(marked.attachments).toBe(token!.attachments);
  });
});
