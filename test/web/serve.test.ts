import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TYPE, runDemo } from '../../src/demo/demo';
import { openPicas } from '../../src/picas/client';
import { ensureDesignDoc } from '../../src/picas/designDocStore';
import { type StatusServer, startStatusServer } from '../../src/web';
import { startHttpFaultProxy } from '../chaos/support/httpFaultProxy';
import { lrt } from '../helpers/cli';
import { couchServerUrl, createTestDatabase, type TestDatabase } from '../helpers/couch';
import { updateDoc } from '../helpers/seedTokens';
import {
  attemptLogs,
  doneToken,
  errorToken,
  runningToken,
  seedStatusTokens,
  todoToken,
} from '../helpers/statusSeed';

const CHROMIUM = '/usr/bin/chromium';
const DIST_PILOT = resolve(__dirname, '../../dist/pilot.js');
const T = 'web';
// A token id that is markup: the page must show it as text and run nothing.
const XSS_ID = 't_<img/src=x/onerror=window.__xss=1>';
const scratch = mkdtempSync(join(tmpdir(), 'lrt-web-test-'));

let t: TestDatabase;
let browser: BrowserContext;
const servers: StatusServer[] = [];
const now = () => Math.floor(Date.now() / 1000);

async function serve(db: TestDatabase, type: string): Promise<StatusServer> {
  const picas = openPicas({ url: db.baseUrl, database: db.name, user: db.user, password: db.password });
  const server = await startStatusServer({ picas, type, refreshSeconds: 0.5 });
  servers.push(server);
  return server;
}

async function count(page: Page, state: string): Promise<number> {
  const text = await page.locator(`#counts [data-state="${state}"] b`).textContent();
  return Number(text);
}

beforeAll(async () => {
  t = await createTestDatabase('lrt_web');
  const n = now();
  await seedStatusTokens(t, T, [
    todoToken(T, 't_todo_1'),
    todoToken(T, XSS_ID),
    {
      ...doneToken(T, 't_done_1', n - 600, [['running', 120]]),
      _attachments: attemptLogs(1, 'all 5 files processed\n'),
    },
    {
      ...errorToken(T, 't_err_1', {
        time: n - 30,
        phase: 'running',
        exit: 99,
        message: '<b>exit</b> 99 in running',
        stderrTail: 'reading L1_SB007.MS\n\nDPPP: <i>cannot open</i> the MS\n',
      }),
      _attachments: attemptLogs(1, 'partial output\n', 'demo failure requested\n'),
    },
    runningToken(T, 't_stale_1', { claimed: n - 2000, expires: n - 600, pilot: 'pilot-gone', host: 'wn-17' }),
  ]);
  // A fresh profile per run; playwright takes it as the persistent context's folder.
  browser = await chromium.launchPersistentContext(mkdtempSync(join(scratch, 'profile-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  for (const s of servers) await s.close();
  await t?.drop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('lrt serve page in headless Chromium', () => {
  it('shows the overview, progress bar, failing tokens, stale leases and the token table', async () => {
    const server = await serve(t, T);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url);
    await page.waitForSelector('#tokens tbody td.token-id');

    expect(await page.locator('#title').textContent()).toBe(`${T} in ${t.name}`);
    expect(await count(page, 'todo')).toBe(2);
    expect(await count(page, 'done')).toBe(1);
    expect(await count(page, 'error')).toBe(1);
    expect(await count(page, 'running')).toBe(1);
    // 2 of 5 finished: 40 %.
    expect(await page.locator('#progress-text').textContent()).toContain(
      '40% — 2 of 5 finished (1 done, 1 error)',
    );
    expect(await page.locator('#progress').getAttribute('aria-valuenow')).toBe('40');
    expect(
      await page
        .locator('#progress-fill')
        .evaluate((e) => (e as unknown as { style: { width: string } }).style.width),
    ).toBe('40%');

    const failing = page.locator('#failing tbody tr');
    expect(await failing.count()).toBe(1);
    expect(await failing.locator('td').allTextContents()).toEqual([
      't_err_1',
      'running',
      '99 (pipeline failure)',
      '1',
      '<b>exit</b> 99 in running' + 'reading L1_SB007.MS\nDPPP: <i>cannot open</i> the MS',
    ]);
    // The stderr tail the pilot stored, under the message, as text.
    expect(await failing.locator('td.msg pre.stderr').textContent()).toBe(
      'reading L1_SB007.MS\nDPPP: <i>cannot open</i> the MS',
    );
    const stale = await page.locator('#stale tbody tr td').allTextContents();
    expect(stale.slice(0, 4)).toEqual(['t_stale_1', 'pilot-gone', 'wn-17', '1']);
    expect(stale[4]).toMatch(/^10m \d\ds ago$/);

    const ids = await page.locator('#tokens tbody td.token-id').allTextContents();
    expect(ids.sort()).toEqual(['t_done_1', 't_err_1', 't_stale_1', 't_todo_1', XSS_ID].sort());
    // Token data stays text: no element was made from it, nothing ran.
    expect(await page.locator('#tokens img, #failing b, #failing i').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined();
    expect(errors).toEqual([]);
    await page.screenshot({ path: join(scratch, 'serve.png'), fullPage: true });
    await page.close();
  });

  it('links the logs of each token and filters the table by state', async () => {
    const server = await serve(t, T);
    const page = await browser.newPage();
    await page.goto(server.url);
    const errRow = page.locator('#tokens tbody tr', {
      has: page.locator('td.token-id', { hasText: 't_err_1' }),
    });
    await errRow.waitFor();
    expect(await errRow.locator('a').allTextContents()).toEqual(['stdout', 'stderr', 'pilot']);
    const href = await errRow.locator('a', { hasText: 'stderr' }).getAttribute('href');
    const log = await page.request.get(new URL(href!, server!.url).toString());
    expect(await log.text()).toBe('demo failure requested\n');
    // Only logs are served, not other attachments.
    const refused = await page.request.get(
      new URL('api/logs?token=t_err_1&name=srm.txt', server.url).toString(),
    );
    expect(refused.status()).toBe(400);

    await page.selectOption('#state-filter', 'todo');
    await expect
      .poll(() => page.locator('#tokens tbody td.state').allTextContents())
      .toEqual(['todo', 'todo']);
    expect((await page.locator('#tokens tbody td.token-id').allTextContents()).sort()).toEqual(
      ['t_todo_1', XSS_ID].sort(),
    );
    expect(await page.locator('#page-info').textContent()).toBe('1–2 of 2');
    await page.close();
  });

  it('refreshes live when a token changes', async () => {
    const server = await serve(t, T);
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.waitForSelector('#counts [data-state="done"]');
    expect(await count(page, 'done')).toBe(1);
    await updateDoc(t, 't_todo_1', () => ({
      lock: now(),
      done: now(),
      status: 'done',
      times: { locked: now(), done: now() },
    }));
    await expect.poll(() => count(page, 'done'), { timeout: 10_000 }).toBe(2);
    expect(await page.locator('#progress-text').textContent()).toContain('60%');
    await page.close();
  });

  it.skipIf(!existsSync(DIST_PILOT))('follows a running demo to the end', async () => {
    const demoDb = await createTestDatabase('lrt_webdemo');
    let server: StatusServer | undefined;
    try {
      server = await serve(demoDb, DEMO_TYPE);
      const page = await browser.newPage();
      await page.goto(server.url);
      const demo = runDemo({
        dir: join(scratch, 'demo'),
        pilots: 2,
        perToken: 10,
        sleep: 0.2,
        failSubband: '150',
        url: couchServerUrl(),
        database: demoDb.name,
      });
      // While the pilots work, the page shows tokens in flight.
      await expect
        .poll(() => page.locator('#progress-text').textContent(), { timeout: 30_000 })
        .toMatch(/of 6 finished/);
      const result = await demo;
      expect(result.counts).toMatchObject({ total: 6, done: 5, error: 1 });
      await expect
        .poll(() => page.locator('#progress-text').textContent(), { timeout: 10_000 })
        .toContain('100% — 6 of 6 finished (5 done, 1 error)');
      expect(await page.locator('#failing tbody td.msg').allTextContents()).toEqual([
        expect.stringContaining('99'),
      ]);
      // What master.sh said on stderr, and what exit 99 means for a LOFAR sandbox.
      expect(await page.locator('#failing tbody td.msg pre.stderr').textContent()).toBe(
        'demo failure requested for subband 150',
      );
      expect(await page.locator('#failing tbody td').nth(2).textContent()).toBe('99 (pipeline failure)');
      // Every phase the pilots went through (the demo moves data: downloading, uploading), with the
      // time it took (fractions of a second here).
      await expect
        .poll(() => page.locator('#phases tbody td:first-child').allTextContents(), { timeout: 10_000 })
        .toEqual(['sandbox', 'inputs', 'downloading', 'running', 'uploading']);
      const medians = await page.locator('#phases tbody td:nth-child(2)').allTextContents();
      for (const m of medians) expect(m).toMatch(/^[\d.]+s$/);
      expect(Number(medians[3]!.replace('s', ''))).toBeGreaterThanOrEqual(2);
      // Every token links the logs its pilot attached; the stdout of a done token is the demo's.
      const doneRow = page
        .locator('#tokens tbody tr', { has: page.locator('td.state', { hasText: 'done' }) })
        .first();
      const href = await doneRow.locator('a', { hasText: 'stdout' }).getAttribute('href');
      const stdout = await (await page.request.get(new URL(href!, server!.url).toString())).text();
      expect(stdout).toMatch(/token t_demo_L229507_SB\d+: 10 files/);
      await page.screenshot({ path: join(scratch, 'demo.png'), fullPage: true });
      await page.close();
    } finally {
      // No status read may be in flight when the database goes (the embedded server would make it anew).
      await server?.close();
      await demoDb.drop();
    }
  });

  it('counts tokens picasclient and GRID_LRT finished, and lists a token picasclient took over', async () => {
    const mixed = await createTestDatabase('lrt_webpy');
    let server: StatusServer | undefined;
    try {
      const n = now();
      const picas = openPicas({
        url: mixed.baseUrl,
        database: mixed.name,
        user: mixed.user,
        password: mixed.password,
      });
      await seedStatusTokens(mixed, 'py', [
        // picasclient's close: done epoch and exit_code; its status stays as GRID_LRT left it.
        {
          ...todoToken('py', 't_picas_done'),
          lock: n - 300,
          done: n - 60,
          exit_code: 0,
          hostname: 'picas-wn-1',
        },
        {
          ...todoToken('py', 't_picas_failed'),
          lock: n - 300,
          done: n - 50,
          exit_code: 4,
          hostname: 'picas-wn-1',
        },
        { ...todoToken('py', 't_grid_done'), lock: n - 400, status: 'done' },
        {
          ...runningToken('py', 't_taken', {
            claimed: n - 100,
            expires: n + 500,
            pilot: 'pilot-7',
            host: 'wn-7',
          }),
          lock: n - 20,
          hostname: 'picas-wn-2',
        },
        todoToken('py', 't_todo'),
      ]);
      await ensureDesignDoc(picas, 'py');
      server = await serve(mixed, 'py');
      const page = await browser.newPage();
      await page.goto(server.url);
      await page.waitForSelector('#taken tbody td');
      expect(await count(page, 'done')).toBe(2);
      expect(await count(page, 'error')).toBe(1);
      expect(await page.locator('#progress-text').textContent()).toContain(
        '3 of 5 finished (2 done, 1 error)',
      );
      expect(await page.locator('#taken tbody tr td').allTextContents()).toEqual([
        't_taken',
        'picas-wn-2',
        'running',
        'pilot-7',
        'wn-7',
      ]);
      expect(await page.locator('#rate').textContent()).not.toContain('no token finished yet');
      await page.close();
    } finally {
      await server?.close();
      await mixed.drop();
    }
  });

  it('waits longer between refreshes when a refresh took long, and says so', async () => {
    // The overview read held 1.5 s: a refresh takes longer than the 0.5 s interval.
    const slow = await startHttpFaultProxy(t.baseUrl, () => undefined, {
      delayMs: (req) => (req.url?.includes('/_view/overview_total') ? 1500 : 0),
    });
    try {
      const picas = openPicas({
        url: slow.via(t.baseUrl),
        database: t.name,
        user: t.user,
        password: t.password,
      });
      const server = await startStatusServer({ picas, type: T, refreshSeconds: 0.5 });
      servers.push(server);
      const page = await browser.newPage();
      await page.goto(server.url);
      await page.waitForSelector('#counts [data-state="done"]');
      await expect
        .poll(() => page.locator('#slow').textContent(), { timeout: 10_000 })
        .toMatch(/^refresh took \d+(\.\d)?s, next in \d+(\.\d)?s$/);
      const [took, next] = ((await page.locator('#slow').textContent()) ?? '').match(/[\d.]+/g)!.map(Number);
      expect(took).toBeGreaterThanOrEqual(1.5);
      expect(next).toBeGreaterThanOrEqual(2 * took! - 0.1);
      await page.close();
    } finally {
      await slow.close();
    }
    // Without the delay, the page keeps its interval and says nothing (an interval a loaded
    // machine's refresh stays well inside: the 0.5 s one is crossed by a refresh of 0.25 s).
    const picas = openPicas({ url: t.baseUrl, database: t.name, user: t.user, password: t.password });
    const server = await startStatusServer({ picas, type: T, refreshSeconds: 30 });
    servers.push(server);
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.waitForSelector('#counts [data-state="done"]');
    expect(await page.locator('#slow').textContent()).toBe('');
    await page.close();
  });

  it('answers API errors as JSON without the password, and the page says it cannot read', async () => {
    const gone = { ...t, name: 'lrt_web_no_such_db' };
    const server = await serve(gone, T);
    const res = await fetch(new URL('api/status', server.url));
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('E_DB_NOT_FOUND');
    expect(body.error.message).toContain('lrt_web_no_such_db');
    expect(JSON.stringify(body)).not.toContain(t.password);
    const page = await browser.newPage();
    await page.goto(server.url);
    await expect.poll(() => page.locator('#error').textContent()).toContain('cannot read the status');
    await page.close();
  });

  it('lrt serve needs a token type and a reachable database', async () => {
    const res = await lrt(['serve'], { env: { PICAS_URL: t.baseUrl, PICAS_DB: t.name } });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain('--type');
    // A mistyped type or a database that is down: said at once, no page served for nothing.
    const typo = await lrt(['serve', '--type', 'nosuchtype', '--port', '0'], {
      env: { PICAS_URL: t.serverUrl, PICAS_DB: t.name },
    });
    expect(typo.exitCode).toBe(5);
    expect(typo.stderr).toContain('_design/nosuchtype does not exist');
    expect(typo.stdout).toBe('');
    const down = await lrt(['serve', '--type', T, '--port', '0'], {
      env: { PICAS_URL: 'http://127.0.0.1:9', PICAS_DB: t.name },
    });
    expect(down.exitCode).toBe(3);
  });
});
