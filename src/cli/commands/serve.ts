import { startStatusServer } from '../../web';
import { type Command, int, str } from '../command';
import { EXIT } from '../exitCodes';
import { PICAS_OPTIONS, picasFromContext } from '../picasOptions';
import { serveUntilStopped } from '../stopSignal';
import { TYPE_OPTION, tokenType } from './status';

export const serve: Command = {
  path: ['serve'],
  summary: 'a local web page of the status of a token type: overview, progress, token table, logs',
  json: '{url, type} (then serves until Ctrl-C)',
  description:
    'Serves one page that polls the database: counts, progress bar, throughput, ETA, phase times,\n' +
    'failing tokens, stale leases and a token table with state, attempts and links to their logs.\n' +
    'Read-only. Listens on 127.0.0.1 unless --host says otherwise; prints the URL; Ctrl-C stops.',
  options: {
    ...TYPE_OPTION,
    port: { type: 'string', value: 'N', description: 'port (default 8080; 0 picks a free one)' },
    host: { type: 'string', value: 'ADDR', description: 'address to listen on (default 127.0.0.1)' },
    refresh: { type: 'string', value: 'S', description: 'seconds between page refreshes (default 5)' },
    'max-docs': { type: 'string', value: 'N', description: 'finished tokens read for times (default 5000)' },
    ...PICAS_OPTIONS,
  },
  examples: ['lrt serve --type pref_cal1', 'lrt serve --type demo --port 0 --refresh 2'],
  async run(ctx) {
    const type = tokenType(ctx);
    const server = await startStatusServer({
      picas: picasFromContext(ctx),
      type,
      host: str(ctx, 'host') ?? '127.0.0.1',
      port: int(ctx, 'port', 8080, 0),
      refreshSeconds: int(ctx, 'refresh', 5),
      maxDocs: int(ctx, 'max-docs', 5000),
      onRefused: (err) => ctx.out.error(err),
    });
    ctx.out.result({ url: server.url, type });
    ctx.out.line(server.url);
    ctx.out.note(`serving the status of ${type}; Ctrl-C stops`);
    await serveUntilStopped(() => server.close());
    return EXIT.ok;
  },
};

export const serveCommands: Command[] = [serve];
