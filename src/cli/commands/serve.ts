import { resolveView } from '../../picas/viewQuery';
import { startStatusServer } from '../../web';
import { defineCommand } from '../command';
import { EXIT } from '../exitCodes';
import { listenError } from '../listen';
import { PICAS_OPTIONS, picasFromContext } from '../picasOptions';
import { serveUntilStopped } from '../stopSignal';
import { TYPE_OPTION, tokenType } from './status';

export const serve = defineCommand({
  path: ['serve'],
  summary: 'a local web page of the status of a token type: overview, progress, token table, logs',
  json: '{url, type} (then serves until Ctrl-C)',
  description:
    'Serves one page that polls the database: counts, progress bar, throughput, ETA, phase times,\n' +
    'failing tokens, stale leases and a token table with state, attempts and links to their logs.\n' +
    'Read-only. Listens on 127.0.0.1 unless --host says otherwise; prints the URL; Ctrl-C stops.\n' +
    'The type is read once before it listens: a type with no tokens set up is refused (exit 5).\n' +
    'The page reads a JSON API that scripts may use too (errors: {"error": {code, message}}):\n' +
    '  GET /api/status                  the report of `lrt status --json`\n' +
    '  GET /api/tokens?state=S&limit=N  a page of the token table (N up to 500, default 50):\n' +
    '       {rows: [{id, state, status, attempts, ...}], limit, total, next, previous};\n' +
    '       after=NEXT or before=PREVIOUS pages on\n' +
    '  GET /api/logs?token=ID&name=LOG  one log attachment of a token, as text',
  options: {
    ...TYPE_OPTION,
    port: {
      type: 'integer',
      min: 0,
      max: 65535,
      default: 8080,
      value: 'N',
      description: 'port (default 8080; 0 picks a free one)',
    },
    host: {
      type: 'string',
      default: '127.0.0.1',
      value: 'ADDR',
      description: 'address to listen on (default 127.0.0.1)',
    },
    refresh: {
      type: 'integer',
      default: 5,
      value: 'S',
      description: 'seconds between page refreshes (default 5)',
    },
    'max-docs': {
      type: 'integer',
      default: 5000,
      value: 'N',
      description: 'finished tokens read for times (default 5000)',
    },
    ...PICAS_OPTIONS,
  },
  examples: ['lrt serve --type pref_cal1', 'lrt serve --type demo --port 0 --refresh 2'],
  async run(ctx) {
    const type = tokenType(ctx);
    const picas = picasFromContext(ctx);
    // A mistyped --type, or a database that cannot be read, is said here and not only on the page.
    await resolveView(picas, type, 'overview_total');
    const server = await startStatusServer({
      picas,
      type,
      host: ctx.options.host,
      port: ctx.options.port,
      refreshSeconds: ctx.options.refresh,
      maxDocs: ctx.options['max-docs'],
      onRefused: (err) => ctx.out.error(err),
    }).catch((err) => {
      throw listenError(err, ctx.options.host);
    });
    ctx.out.result({ url: server.url, type });
    ctx.out.line(server.url);
    ctx.out.note(`serving the status of ${type}; Ctrl-C stops`);
    await serveUntilStopped(() => server.close());
    return EXIT.ok;
  },
});

export const serveCommands = [serve];
