import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from '../../src/cli/commands';
import { runCli } from '../../src/cli/run';
import { buildStatusReport, renderStatus } from '../../src/monitor';
import { type HttpFaultProxy, startHttpFaultProxy } from '../chaos/support/httpFaultProxy';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import { seedStatusTokens, todoToken } from '../helpers/statusSeed';

/* `lrt status` names its reads that took more than a second, with their seconds. */

const T = 'slowreads';

describe('lrt status: slow reads', () => {
  const reportWith = (reads: { read: string; seconds: number }[]) =>
    buildStatusReport({
      type: T,
      database: 'db',
      now: 1_000,
      counts: { todo: 1 },
      done: [],
      failed: [],
      stale: [],
      reads,
    });

  it('names only the reads over 1 s, slowest first, in the report and on a line of its own', () => {
    const report = reportWith([
      { read: 'overview_total (counts)', seconds: 5.83 },
      { read: 'expired (stale leases)', seconds: 0.2 },
      { read: 'done (times)', seconds: 1.25 },
    ]);
    expect(report.slowReads).toEqual([
      { read: 'overview_total (counts)', seconds: 5.83 },
      { read: 'done (times)', seconds: 1.25 },
    ]);
    expect(renderStatus(report)).toContain('Slow reads: overview_total (counts) 5.8 s, done (times) 1.3 s');
    const quick = reportWith([{ read: 'x', seconds: 0.4 }]);
    expect(quick.slowReads).toEqual([]);
    expect(renderStatus(quick).some((line) => line.startsWith('Slow reads'))).toBe(false);
  });

  describe('on a server that answers the overview slowly', () => {
    let t: TestDatabase;
    let proxy: HttpFaultProxy;
    beforeAll(async () => {
      t = await createTestDatabase('lrt_slow_reads');
      await seedStatusTokens(t, T, [todoToken(T, `t_${T}_1`), todoToken(T, `t_${T}_2`)]);
      proxy = await startHttpFaultProxy(t.baseUrl, () => undefined, {
        delayMs: (req) => (req.url?.includes('_view/overview_total') ? 1_300 : 0),
      });
    });
    afterAll(async () => {
      await proxy?.close();
      await t?.drop();
    });

    async function status(json: boolean) {
      let stdout = '';
      const code = await runCli(commands, ['status', '--type', T, ...(json ? ['--json'] : [])], {
        stdout: { write: (text: string) => (stdout += text) },
        stderr: { write: () => true },
        env: {
          PICAS_URL: proxy.via(t.baseUrl),
          PICAS_DB: t.name,
          PICAS_USR: t.user,
          PICAS_USR_PWD: t.password,
        },
        cwd: process.cwd(),
        home: '/nonexistent-home',
      });
      expect(code).toBe(0);
      return stdout;
    }

    it('--json: slowReads names the overview read and its seconds', async () => {
      const report = JSON.parse(await status(true)) as { slowReads: { read: string; seconds: number }[] };
      const overview = report.slowReads.find((r) => r.read === 'overview_total (counts)');
      expect(overview?.seconds).toBeGreaterThanOrEqual(1.3);
    });

    it('text: a Slow reads line', async () => {
      expect(await status(false)).toMatch(/^Slow reads: .*overview_total \(counts\) \d+\.\d s/m);
    });
  });
});
