import { startEmbeddedCouch } from '../../dbserver';
import { type Command, int, str } from '../command';
import { serveUntilStopped } from '../stopSignal';

export const dbServe: Command = {
  path: ['db', 'serve'],
  summary: 'run a local CouchDB-API server (in memory, or on disk with --data)',
  description:
    'Prints the server URL with generated admin credentials as its first line; export it as\n' +
    'PICAS_URL to point every lrt command and pilot at it. Stops on Ctrl-C.',
  options: {
    port: { type: 'string', value: 'N', description: 'port to listen on (default: a free port)' },
    host: { type: 'string', value: 'ADDR', description: 'address to listen on (default 127.0.0.1)' },
    data: { type: 'string', value: 'DIR', description: 'keep databases on disk in DIR (default: in memory)' },
    'admin-user': { type: 'string', value: 'NAME', description: 'admin user name (default admin)' },
  },
  examples: ['lrt db serve --port 5984', 'export PICAS_URL=$(lrt db serve --data ./couch | head -1)'],
  async run(ctx) {
    const server = await startEmbeddedCouch({
      port: int(ctx, 'port', 0, 0),
      host: str(ctx, 'host') ?? '127.0.0.1',
      dataDir: str(ctx, 'data'),
      adminUser: str(ctx, 'admin-user') ?? 'admin',
      adminPassword: ctx.env.LRT_DB_ADMIN_PASSWORD,
    });
    if (ctx.out.json) {
      ctx.out.result({ url: server.urlWithCredentials, data: str(ctx, 'data') ?? null });
    } else {
      ctx.out.line(server.urlWithCredentials);
      ctx.out.note(
        `serving ${str(ctx, 'data') ? `databases in ${str(ctx, 'data')}` : 'in memory'}; Ctrl-C stops`,
      );
    }
    await serveUntilStopped(() => server.close());
    return 0;
  },
};

export const dbCommands: Command[] = [dbServe];
