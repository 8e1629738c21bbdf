import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readTokenPage } from '../../src/monitor';
import type { PicasDb } from '../../src/picas/client';
import { ensureDesignDoc } from '../../src/picas/designDocStore';
import { finishedDesignDocId, tokenOutcome } from '../../src/picas/finishedViews';
import { applyClaim, finishPatch, heartbeatPatch } from '../../src/picas/protocol';
import { type StoredToken, tokenFromDoc, tokenToDoc } from '../../src/picas/tokenDoc';
import {
  conditionView,
  designDocId,
  overviewView,
  STATUS_CONDITIONS,
  standardViews,
} from '../../src/picas/viewDefinitions';
import { resetView } from '../../src/picas/viewOps';
import { listTokens, tokenOverview } from '../../src/picas/viewQuery';
import { lrt } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import { bulkDocs, getDoc, picasFor } from '../helpers/seedTokens';

/*
 * Finished the way each tool writes it (docs/token-format.md, Finished tokens): GRID_LRT's
 * `status`, picasclient's `done` epoch with `exit_code` (and its Task.error), grid-lrt's own. The
 * documents are the tools' own (test/fixtures/pythonTools) with the fields each tool changes.
 */

const T = 'mixed';
const NOW = Math.floor(Date.now() / 1000);
const FIXTURES = join(__dirname, '../fixtures/pythonTools');

/** A fixture document as the tool stored it, in our token type, without revision and stubs. */
function fixture(name: string, id: string): StoredToken {
  const { _rev, _attachments, ...doc } = JSON.parse(
    readFileSync(join(FIXTURES, name), 'utf8'),
  ) as StoredToken;
  return { ...doc, _id: id, type: T };
}

const claimInput = { pilot: 'pilot-1', host: 'wn-1', jobIds: {}, leaseSeconds: 600 };

function ours(id: string, ok: boolean): StoredToken {
  const claimed = applyClaim(tokenFromDoc(fixture('grid_lrt_token_no_config.json', id)), {
    ...claimInput,
    leaseId: `lease-${id}`,
    now: NOW - 900,
  });
  const patched = finishPatch(claimed, `lease-${id}`, {
    now: NOW - 100,
    exitCode: ok ? 0 : 3,
    ok,
    phase: 'running',
  });
  if (!('doc' in patched)) throw new Error('finish refused');
  return tokenToDoc(patched.doc);
}

function oursRunning(id: string): StoredToken {
  const claimed = applyClaim(tokenFromDoc(fixture('grid_lrt_token_no_config.json', id)), {
    ...claimInput,
    leaseId: `lease-${id}`,
    now: NOW - 60,
  });
  const beat = heartbeatPatch(claimed, `lease-${id}`, { now: NOW - 30, leaseSeconds: 600, phase: 'running' });
  if (!('doc' in beat)) throw new Error('renew refused');
  return tokenToDoc(beat.doc);
}

/** picasclient's `_claim_task` lock, then `close` with the example's exit code. */
function picasFinished(doc: StoredToken, exitCode: number, lock = NOW - 700): StoredToken {
  return { ...doc, lock, hostname: 'picas-wn-3', exit_code: exitCode, done: lock + 600 };
}

const TOKENS: Record<string, StoredToken> = {
  grid_done: { ...fixture('grid_lrt_token_tutorial_cfg.json', 'grid_done'), lock: NOW - 800, status: 'done' },
  grid_error: {
    ...fixture('grid_lrt_token_tutorial_cfg.json', 'grid_error'),
    lock: NOW - 800,
    status: 'error',
  },
  picas_done: picasFinished(fixture('picas_task_quick.json', 'picas_done'), 0),
  picas_failed: picasFinished(fixture('picas_task_quick.json', 'picas_failed'), 2),
  picas_task_error: {
    ...fixture('picas_task_quick.json', 'picas_task_error'),
    lock: -1,
    done: -1,
    error: [{ time: NOW - 50, message: "Exception <class 'OSError'> occurred during processing" }],
  },
  // A GRID_LRT token ("queued") that picasclient ran: its status stays as it was.
  grid_closed_by_picas: picasFinished(fixture('grid_lrt_token_tutorial_cfg.json', 'grid_closed_by_picas'), 0),
  ours_done: ours('ours_done', true),
  ours_error: ours('ours_error', false),
  todo_fresh: fixture('grid_lrt_token_no_config.json', 'todo_fresh'),
  running: oursRunning('running'),
  // Ours, re-locked by picasclient while our pilot held it: our pilot stopped, picasclient runs it.
  taken: { ...oursRunning('taken'), lock: NOW - 20, hostname: 'picas-wn-3' },
};

const DONE = ['grid_closed_by_picas', 'grid_done', 'ours_done', 'picas_done'];
const ERROR = ['grid_error', 'ours_error', 'picas_failed', 'picas_task_error'];

describe('tokenOutcome (the views’ own function)', () => {
  it('reads each tool’s finish', () => {
    const outcome = Object.fromEntries(
      Object.entries(TOKENS).map(([id, doc]) => [id, tokenOutcome(tokenFromDoc(doc))]),
    );
    for (const id of DONE) expect(outcome[id], id).toBe('done');
    for (const id of ERROR) expect(outcome[id], id).toBe('error');
    for (const id of ['todo_fresh', 'running', 'taken']) expect(outcome[id], id).toBeUndefined();
  });

  it('our claim and finish keep every field GRID_LRT and picasclient wrote, field by field', () => {
    // Fields whose value the protocol sets, each in the meaning GRID_LRT and picasclient give it.
    const protocol = new Set(['lock', 'done', 'status', 'hostname', 'output', 'progress', 'times', 'error']);
    for (const name of [
      'grid_lrt_token_no_config.json',
      'grid_lrt_token_tutorial_cfg.json',
      'picas_task_quick.json',
    ]) {
      const original = fixture(name, 'field_check');
      const claimed = applyClaim(tokenFromDoc(original), { ...claimInput, leaseId: 'L', now: NOW - 100 });
      const failed = finishPatch(claimed, 'L', { now: NOW, exitCode: 5, ok: false, phase: 'running' });
      if (!('doc' in failed)) throw new Error('finish refused');
      const doc = tokenToDoc(failed.doc);
      for (const [field, value] of Object.entries(original)) {
        if (!protocol.has(field)) expect(doc[field], `${name}: ${field}`).toEqual(value);
      }
      expect(doc, name).toMatchObject({
        lock: NOW - 100,
        done: NOW,
        status: 'error',
        hostname: 'wn-1',
        exit_code: 5,
      });
      // GRID_LRT's `output` is the exit code; picasclient's own `output` (a dict of results) is
      // replaced by it too (docs/token-format.md).
      expect(doc.output, name).toBe(5);
      expect(doc.scrub_count, name).toBe(original.scrub_count);
      // picasclient's error list grows by our entry; GRID_LRT tokens get one.
      const before = Array.isArray(original.error) ? original.error : [];
      expect((doc.error as unknown[]).slice(0, before.length), name).toEqual(before);
      expect((doc.error as { exit_code: number }[]).at(-1)?.exit_code, name).toBe(5);
      expect(tokenOutcome(failed.doc), name).toBe('error');
    }
  });
});

describe('finished views on the server', () => {
  let t: TestDatabase;
  let picas: PicasDb;
  let typeDocRev: string | undefined;

  beforeAll(async () => {
    t = await createTestDatabase('lrt_finished');
    picas = picasFor(t);
    // A database set up before the finished views existed: `_design/<type>` as it was.
    await bulkDocs(t, [{ _id: designDocId(T), language: 'javascript', views: standardViews(T) }]);
    typeDocRev = (await getDoc(t, designDocId(T)))._rev;
    await bulkDocs(t, Object.values(TOKENS));
    await ensureDesignDoc(picas, T);
  });

  it('adds _design/finished:<type> and leaves _design/<type> (and the index of todo) as it was', async () => {
    const typeDoc = await getDoc(t, designDocId(T));
    expect(typeDoc._rev).toBe(typeDocRev);
    expect((typeDoc.views as Record<string, { map: string }>).todo!.map).toBe(
      conditionView(T, STATUS_CONDITIONS.todo).map,
    );
    const finished = await getDoc(t, finishedDesignDocId(T));
    expect(Object.keys(finished.views as object).sort()).toEqual([
      'done',
      'error',
      'overview_total',
      'taken_over',
    ]);
    const again = await ensureDesignDoc(picas, T);
    expect(again.changed).toBe(false);
    expect((await getDoc(t, finishedDesignDocId(T)))._rev).toBe(finished._rev);
  });

  it('done and error list what every tool finished (lrt tokens list --view done/error)', async () => {
    expect((await listTokens(picas, T, 'done')).map((r) => r.id).sort()).toEqual(DONE);
    expect((await listTokens(picas, T, 'error')).map((r) => r.id).sort()).toEqual(ERROR);
    const env = { PICAS_URL: t.baseUrl, PICAS_DB: t.name, PICAS_USR: t.user, PICAS_USR_PWD: t.password };
    const cli = await lrt(['tokens', 'list', '--type', T, '--view', 'done', '--json'], { env });
    expect(cli.exitCode, cli.stderr).toBe(0);
    const docs = cli.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { _id: string });
    expect(docs.map((d) => d._id).sort()).toEqual(DONE);
  });

  it('the overview counts them; GRID_LRT’s own done view still reads status only', async () => {
    // `running` and `taken` both show our pilot's last phase; picasclient writes no status.
    expect(await tokenOverview(picas, T)).toMatchObject({
      done: 4,
      error: 4,
      todo: 1,
      running: 2,
      locked: 0,
    });
    const res = await fetch(`${t.baseUrl}/${t.name}/_design/${T}/_view/done`, {
      headers: { authorization: `Basic ${Buffer.from(`${t.user}:${t.password}`).toString('base64')}` },
    });
    const rows = ((await res.json()) as { rows: { id: string }[] }).rows.map((r) => r.id).sort();
    expect(rows).toEqual(['grid_done', 'ours_done']);
  });

  it('lrt status: finished counts, times from lock/done where there are no `times`, the taken-over token', async () => {
    const env = { PICAS_URL: t.baseUrl, PICAS_DB: t.name, PICAS_USR: t.user, PICAS_USR_PWD: t.password };
    const result = await lrt(['status', '--type', T, '--json'], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ done: 4, error: 4, finished: 8, total: 11 });
    expect(report.throughput.perHour).toBeGreaterThan(0);
    // Our two attempts (800 s) and picasclient's three runs, lock to done (600 s); GRID_LRT's and
    // Task.error's tokens carry no done epoch.
    expect(report.attempt).toEqual({ n: 5, median: 600 });
    expect(report.failing.map((f: { id: string }) => f.id).sort()).toEqual(ERROR);
    expect(report.takenOver).toEqual([
      { id: 'taken', by: 'picas-wn-3', lock: NOW - 20, pilot: 'pilot-1', host: 'wn-1', finished: false },
    ]);
    const text = await lrt(['status', '--type', T], { env });
    expect(text.stdout).toContain('Taken over by another tool (1)');
    expect(text.stdout).toContain('taken  lock changed by picas-wn-3');
    expect(text.stdout).not.toContain('no token finished yet');
  });

  it('the web page’s token table shows them under done', async () => {
    const page = await readTokenPage(picas, T, { state: 'done' });
    expect(page.rows.map((r) => r.id).sort()).toEqual(DONE);
    expect(page.total).toBe(4);
  });

  it('lrt tokens reset --view done resets the tokens picasclient finished too', async () => {
    const report = await resetView(picas, T, 'done', { now: () => NOW });
    expect(report.ids.sort()).toEqual(DONE);
    const picasDone = await getDoc(t, 'picas_done');
    expect(picasDone).toMatchObject({ lock: 0, done: 0, status: 'todo' });
    expect(await listTokens(picas, T, 'done')).toEqual([]);
  });
});

describe('lrt views finished on a database GRID_LRT set up', () => {
  it('writes only _design/finished:<type>; _design/<type> keeps its revision; a second run writes nothing', async () => {
    const t = await createTestDatabase('lrt_finished_upgrade');
    // GRID_LRT's add_status_views and add_overview_view: its own views, nothing of ours.
    const gridViews = {
      todo: conditionView(T, 'doc.lock == 0 && doc.done == 0'),
      done: conditionView(T, 'doc.status == "done"'),
      overview_view: overviewView(T),
    };
    await bulkDocs(t, [
      { _id: designDocId(T), language: 'javascript', views: gridViews },
      TOKENS.picas_done!,
      TOKENS.grid_done!,
    ]);
    const before = (await getDoc(t, designDocId(T)))._rev;
    const env = { PICAS_URL: t.baseUrl, PICAS_DB: t.name, PICAS_USR: t.user, PICAS_USR_PWD: t.password };
    const hint = `run 'lrt views finished --type ${T}'`;
    expect((await lrt(['status', '--type', T], { env })).stdout).toContain(hint);
    const first = await lrt(['views', 'finished', '--type', T, '--json'], { env });
    expect(first.exitCode, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ type: T, changed: true, id: finishedDesignDocId(T) });
    const second = await lrt(['views', 'finished', '--type', T], { env });
    expect(second.stdout).toContain(`${finishedDesignDocId(T)}: already up to date`);
    expect((await getDoc(t, designDocId(T)))._rev).toBe(before);
    const status = await lrt(['status', '--type', T], { env });
    expect(status.stdout).not.toContain(hint);
    expect(status.stdout).toContain('2/2 finished (2 done, 0 error)');
    expect((await listTokens(picasFor(t), T, 'done')).map((r) => r.id).sort()).toEqual([
      'grid_done',
      'picas_done',
    ]);
    const help = await lrt(['views', 'finished', '--help'], { env });
    expect(help.stdout).toContain('todo index');
  });
});
