import { LrtError } from '../../core';
import { startCouchCluster, startEmbeddedCouch } from '../../dbserver';
import { CLAIM_DESIGN_PREFIX } from '../../picas/viewDefinitions';
import { type CommandContext, defineCommand } from '../command';
import { listenError } from '../listen';
import { defineOptions } from '../options';
import { serveUntilStopped } from '../stopSignal';

const SERVE_OPTIONS = defineOptions({
  port: {
    type: 'integer',
    min: 0,
    max: 65535,
    value: 'N',
    description: 'port to listen on; node i of a cluster on N+i-1 (default: free ports)',
  },
  host: {
    type: 'string',
    default: '127.0.0.1',
    value: 'ADDR',
    description: 'address to listen on (default 127.0.0.1)',
  },
  data: { type: 'string', value: 'DIR', description: 'keep databases on disk in DIR (default: in memory)' },
  'admin-user': {
    type: 'string',
    default: 'admin',
    value: 'NAME',
    description: 'admin user name (default admin)',
  },
  nodes: {
    type: 'integer',
    default: 1,
    value: 'N',
    description: 'replicas: N > 1 runs a cluster stand-in (default 1)',
  },
  'lagging-views': {
    type: 'integer',
    min: 0,
    value: 'MS',
    description:
      'view reads as on CouchDB under load, for tuning: answered concurrently from an index that trails the writes by MS ms (up-to-date reads wait for it)',
  },
  'jitter-ms': {
    type: 'integer',
    min: 0,
    default: 3,
    value: 'MS',
    description: 'cluster: each copy of a write reaches its replica within MS ms (default 3)',
  },
});

export const dbServe = defineCommand({
  path: ['db', 'serve'],
  summary: 'run a local CouchDB-API server (in memory, or on disk with --data), or a cluster stand-in',
  json:
    '{url, data}: url with the credentials of the embedded server, data the folder or null;\n' +
    'with --nodes N: {url, urls: [URL], nodes}',
  description:
    'Prints the server URL with generated admin credentials as its first line; export it as\n' +
    'PICAS_URL to point every lrt command and pilot at it. Stops on Ctrl-C.\n' +
    'With --nodes N > 1 it runs a stand-in for an N-replica CouchDB 3.x cluster (writes answered\n' +
    'by quorum, 201/202/409; replicas replicating continuously) and prints one URL per node, node 1\n' +
    'first; every node accepts every request. A cluster keeps its databases in memory: --data is\n' +
    'refused with --nodes > 1. See docs/cluster-standin.md.\n' +
    "The claim's index (_design/claim:<type>) is kept up to date in the background, about a\n" +
    'second behind the writes (not with --lagging-views), so the first claim of a fleet does not\n' +
    'wait for it to be built; other views are built when first read. Sizes it is meant for:\n' +
    'README, "Scale".',
  options: SERVE_OPTIONS,
  examples: [
    'lrt db serve --port 5984',
    'export PICAS_URL=$(lrt db serve --data ./couch | head -1)',
    'lrt db serve --nodes 3 --port 15984',
    'lrt db serve --lagging-views 200',
  ],
  async run(ctx) {
    const { nodes } = ctx.options;
    return nodes > 1 ? serveCluster(ctx, nodes) : serveOne(ctx);
  },
});

type ServeContext = CommandContext<typeof SERVE_OPTIONS>;

async function serveOne(ctx: ServeContext): Promise<number> {
  const { data, 'lagging-views': lagMs } = ctx.options;
  const server = await startEmbeddedCouch({
    port: ctx.options.port ?? 0,
    host: ctx.options.host,
    dataDir: data,
    adminUser: ctx.options['admin-user'],
    adminPassword: ctx.env.LRT_DB_ADMIN_PASSWORD,
    laggingViewsMs: lagMs,
    // A lagging server's index trails the writes on purpose: warming it would catch it up.
    warmDesignPrefixes: lagMs === undefined ? [`_design/${CLAIM_DESIGN_PREFIX}`] : [],
  }).catch((err) => {
    throw listenError(err, ctx.options.host);
  });
  if (ctx.out.json) {
    ctx.out.result({ url: server.urlWithCredentials, data: data ?? null });
  } else {
    ctx.out.line(server.urlWithCredentials);
    ctx.out.note(
      `serving ${data ? `databases in ${data}` : 'in memory'}` +
        `${lagMs === undefined ? '' : `; views trail the writes by ${lagMs} ms`}; Ctrl-C stops`,
    );
  }
  await serveUntilStopped(() => server.close());
  return 0;
}

async function serveCluster(ctx: ServeContext, nodes: number): Promise<number> {
  if (ctx.options.data !== undefined) {
    throw new LrtError('E_USAGE', '--data keeps one server on disk; a cluster (--nodes > 1) runs in memory');
  }
  if (ctx.options['lagging-views'] !== undefined) {
    throw new LrtError('E_USAGE', '--lagging-views is a mode of one server: not with --nodes > 1');
  }
  const cluster = await startCouchCluster({
    nodes,
    port: ctx.options.port ?? 0,
    host: ctx.options.host,
    adminUser: ctx.options['admin-user'],
    adminPassword: ctx.env.LRT_DB_ADMIN_PASSWORD,
    jitterMs: ctx.options['jitter-ms'],
  }).catch((err) => {
    throw listenError(err, ctx.options.host);
  });
  if (ctx.out.json) {
    ctx.out.result({ url: cluster.urls[0], urls: cluster.urls, nodes });
  } else {
    for (const url of cluster.urls) ctx.out.line(url);
    ctx.out.note(`serving a ${nodes}-node cluster stand-in in memory; Ctrl-C stops`);
  }
  await serveUntilStopped(() => cluster.close());
  return 0;
}

export const dbCommands = [dbServe];
