import { join } from 'node:path';
import { errorMessage } from '../../core';
import { DEMO_TYPE, type DemoCounts, runDemo, startEmbeddedCouch } from '../../demo/demo';
import { listTokens, openPicas } from '../../picas';
import { defineCommand } from '../command';
import { EXIT } from '../exitCodes';
import { stopOnSignal } from '../stopSignal';

const BAR = 30;

function countsLine(c: DemoCounts): string {
  const finished = c.done + c.error;
  const filled = c.total ? Math.round((finished / c.total) * BAR) : BAR;
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR - filled)}] ${finished}/${c.total}  todo ${c.todo}  locked ${c.locked}  done ${c.done}  error ${c.error}`;
}

export const demoCommand = defineCommand({
  path: ['demo'],
  summary: 'run the whole chain locally: embedded CouchDB, tokens from a SURL list, pilots, live counts',
  json:
    '{url, database, type, tokens, counts: {todo, locked, done, error, total}, seconds,\n' +
    ' pilotExitCodes: [N], logsDir, failures: [{token, message}], processed, interrupted}',
  description:
    'Starts the embedded CouchDB-API server, slices a 51-subband LOFAR SURL list into tokens with\n' +
    'srm.txt attachments, builds a demo sandbox whose master.sh works through each srm.txt, and runs\n' +
    'several dist/pilot.js processes until every token is done or in error. Needs `npm run build`.\n' +
    'Ctrl-C stops the pilots (each gives its token back), prints the counts and exits 130.',
  options: {
    pilots: { type: 'integer', default: 4, value: 'N', description: 'pilot processes (default 4)' },
    'per-token': {
      type: 'integer',
      default: 5,
      value: 'N',
      description: 'SURLs per token (default 5: 11 tokens)',
    },
    sleep: {
      type: 'seconds',
      min: 0,
      default: 0.2,
      value: 'S',
      description: 'seconds of demo work per file (default 0.2)',
    },
    'fail-one': { type: 'boolean', description: 'make the last token fail, to show an error token' },
    dir: {
      type: 'string',
      value: 'DIR',
      description: 'where sandbox, job dirs and logs go (default ./lrt-demo)',
    },
    keep: { type: 'boolean', description: 'keep the embedded server running at the end (Ctrl-C stops)' },
    url: {
      type: 'string',
      value: 'URL',
      description: 'use this CouchDB (with credentials) instead of the embedded one',
    },
    db: { type: 'string', default: 'lrt_demo', value: 'NAME', description: 'database (default lrt_demo)' },
  },
  examples: ['npm run build && node dist/lrt.js demo', 'lrt demo --pilots 8 --per-token 2 --fail-one'],
  async run(ctx) {
    const { 'per-token': perToken, url, db: database, sleep } = ctx.options;
    const server = url ? undefined : await startEmbeddedCouch();
    const dir = ctx.options.dir ?? join(ctx.cwd, 'lrt-demo');
    const tty = (process.stderr as { isTTY?: boolean }).isTTY === true;
    let lastLine = '';
    const stop = stopOnSignal();
    try {
      if (!ctx.out.json) {
        ctx.out.line(
          `demo: database ${database} on ${server ? server.url : 'the given server'}, token type ${DEMO_TYPE}`,
        );
      }
      const result = await runDemo(
        {
          dir,
          pilots: ctx.options.pilots,
          perToken,
          sleep,
          failSubband: ctx.options['fail-one'] ? '150' : undefined,
          url,
          database,
          signal: stop.signal,
          onCounts: (counts) => {
            const line = countsLine(counts);
            if (line === lastLine) return;
            lastLine = line;
            if (tty) process.stderr.write(`\r${line}`);
            else ctx.out.note(line);
          },
        },
        server,
      );
      if (tty) process.stderr.write('\n');
      const picas = openPicas({
        url: server?.url ?? result.url,
        database,
        user: server?.adminUser,
        password: server?.adminPassword,
      });
      const failed = server ? await listTokens(picas, DEMO_TYPE, 'error', { includeDocs: true }) : [];
      const failures = failed.map((row) => {
        const errors = Array.isArray(row.doc?.error) ? row.doc.error : [];
        const last = errors.at(-1);
        return { token: row.id, message: typeof last === 'object' ? (last.message ?? '') : '' };
      });
      const summary = { ...result, failures, ledger: undefined, processed: result.ledger.length };
      if (ctx.out.json) ctx.out.result(summary);
      const c = result.counts;
      ctx.out.line(`tokens ${result.tokens}: done ${c.done}, error ${c.error}, left ${c.todo + c.locked}`);
      for (const f of failures) ctx.out.line(`  error ${f.token}: ${f.message}`);
      ctx.out.line(
        `time ${result.seconds.toFixed(1)} s, ${((c.done + c.error) / result.seconds).toFixed(1)} tokens/s with ${result.pilotExitCodes.length} pilots (exit codes ${result.pilotExitCodes.join(' ')})`,
      );
      ctx.out.line(`payload runs recorded: ${result.ledger.length} (${join(dir, 'processed.txt')})`);
      ctx.out.line(
        `data moved by the pilots: each token's inputs staged in from ${join(dir, 'lta')} (file://), ` +
          `${result.results.length} result tarballs staged out to ${result.resultsDir}`,
      );
      ctx.out.line(
        `pilot logs: ${result.logsDir}/pilot-*.log; each token carries its stdout, stderr and pilot log as attachments`,
      );
      if (result.interrupted) {
        ctx.out.note(
          `interrupted: the pilots were stopped by Ctrl-C and gave their tokens back to todo; ${c.done} done, ${c.error} in error, ${c.todo + c.locked} left`,
        );
        return EXIT.interrupted;
      }
      if (server && ctx.options.keep) {
        ctx.out.line(
          `server still running: ${server.urlWithCredentials}  (PICAS_DB=${database}; Ctrl-C stops)`,
        );
        stop.dispose();
        const keep = stopOnSignal();
        await new Promise<void>((done) => keep.signal.addEventListener('abort', () => done()));
        keep.dispose();
      }
      const allAccounted = c.todo + c.locked === 0 && result.pilotExitCodes.every((code) => code === 0);
      return allAccounted ? EXIT.ok : EXIT.failure;
    } catch (err) {
      ctx.out.error(new Error(`demo failed: ${errorMessage(err)}`));
      return EXIT.failure;
    } finally {
      stop.dispose();
      await server?.close();
    }
  },
});

export const demoCommands = [demoCommand];
