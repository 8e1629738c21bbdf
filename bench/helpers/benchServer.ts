import { randomBytes } from 'node:crypto';
import { redactUrl, scrubSecrets } from '../../src/core/redact';
import { splitUrlCredentials } from '../../src/picas/connectionSettings';
import { startChildServer } from './childServer';

/**
 * The CouchDB-API server a benchmark runs against: `--server URL`, else COUCHDB_URL (a CouchDB
 * base URL with admin credentials, e.g. http://admin:pw@host:5984), else the embedded server in a
 * child process (childServer.ts). Every database a benchmark makes gets a name unique to the run
 * (`<base>_<run id>`) and is recorded; `stop()` drops the ones still there on an external server
 * (on success, on failure, and on SIGINT / SIGTERM), so a benchmark leaves a shared server as it
 * found it. The embedded server keeps everything in memory and dies with the run.
 */

export interface BenchServer {
  /** URL with admin credentials: keep it out of printed output (use `label`). */
  url: string;
  /** One line for the results, safe to print: which server (URL without password), its version. */
  description: string;
  /** CPU seconds the server process has used so far; undefined when it is not our child. */
  cpuSeconds(): number | undefined;
  /** The server's process id when it is our child (the embedded server). */
  pid?: number;
  /** A database name unique to this run, recorded for dropping at `stop()`. */
  databaseName(base: string): string;
  /** Drops a database made by `databaseName` now (a 404 counts as dropped). */
  dropDatabase(name: string): Promise<void>;
  /** Drops what is left of this run's databases (external), then stops the embedded server. */
  stop(): Promise<void>;
}

/** The `--server` lines of a benchmark's --help, its text starting at column `column`. */
export function serverHelp(column: number): string {
  const indent = ' '.repeat(column);
  return [
    `${'--server URL'.padEnd(column)}CouchDB base URL with admin credentials (http://admin:pw@host:5984);`,
    `${indent}default COUCHDB_URL, else the embedded server in a child process. On an`,
    `${indent}external server the run makes its own uniquely named databases and deletes`,
    `${indent}them at the end (also on failure or Ctrl-C). The password is never printed.`,
  ].join('\n');
}

/** Passwords of the servers opened here, scrubbed from anything `benchErrorText` prints. */
const secrets: string[] = [];

/** An error as printable text, without the password of any server this run opened. */
export function benchErrorText(err: unknown): string {
  return scrubSecrets(err instanceof Error ? (err.stack ?? err.message) : String(err), secrets);
}

function authHeaders(url: string): { base: string; headers: Record<string, string> } {
  const split = splitUrlCredentials(url);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (split.user !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${split.user}:${split.password ?? ''}`).toString('base64')}`;
  }
  return { base: split.url, headers };
}

/** `--server` if given, else COUCHDB_URL, else undefined (the embedded server). */
export function serverUrlFrom(flag: string | undefined): string | undefined {
  const url = flag ?? process.env.COUCHDB_URL;
  return url?.trim() ? url.trim().replace(/\/+$/, '') : undefined;
}

/**
 * `serverArgs`: more `lrt db serve` options for the embedded server (e.g. `--data DIR`), named in
 * the description.
 */
export async function openBenchServer(
  externalUrl: string | undefined,
  serverArgs: readonly string[] = [],
): Promise<BenchServer> {
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  /** Every name handed out, kept after its drop: dropping again is a 404, and catches a create still in flight. */
  const made = new Set<string>();
  let closing = false;
  const databaseName = (base: string) => {
    if (closing) throw new Error('the benchmark is stopping: no new databases');
    const name = `${base}_${runId}`;
    made.add(name);
    return name;
  };

  if (!externalUrl) {
    const child = await startChildServer(serverArgs);
    const { password } = splitUrlCredentials(child.url);
    if (password) secrets.push(password);
    const adapter = serverArgs.includes('--data') ? 'leveldb adapter, --data' : 'memory adapter';
    return {
      url: child.url,
      description: `embedded express-pouchdb (${adapter}) in a child process`,
      cpuSeconds: child.cpuSeconds,
      pid: child.pid,
      databaseName,
      dropDatabase: async (name) => {
        const { base, headers } = authHeaders(child.url);
        const res = await fetch(`${base}/${encodeURIComponent(name)}`, { method: 'DELETE', headers });
        await res.arrayBuffer();
      },
      stop: child.stop,
    };
  }

  const { password } = splitUrlCredentials(externalUrl); // throws, without echoing, on a bad URL
  if (password) secrets.push(password);
  const label = redactUrl(externalUrl);
  const { base, headers } = authHeaders(externalUrl);
  const welcome = await fetch(`${base}/`, { headers }).catch((err: unknown) => {
    throw new Error(`server ${label} does not answer: ${benchErrorText(err)}`);
  });
  const info = (await welcome.json().catch(() => ({}))) as { version?: string; vendor?: { name?: string } };
  if (!welcome.ok) throw new Error(`server ${label}: HTTP ${welcome.status} on GET /`);
  const about = [info.version && `version ${info.version}`, info.vendor?.name].filter(Boolean).join(', ');

  const drop = async (name: string): Promise<void> => {
    const res = await fetch(`${base}/${encodeURIComponent(name)}`, { method: 'DELETE', headers });
    await res.arrayBuffer();
    if (!res.ok && res.status !== 404) throw new Error(`dropping ${name} on ${label}: HTTP ${res.status}`);
  };
  const dropAll = async (): Promise<void> => {
    const failures: string[] = [];
    for (const name of [...made]) {
      await drop(name).catch((err: unknown) => failures.push(benchErrorText(err)));
    }
    if (failures.length)
      process.stderr.write(`could not drop every bench database:\n${failures.join('\n')}\n`);
  };

  // Ctrl-C / kill during a run: drop this run's databases before leaving. Ctrl-C reaches this
  // process twice under tsx (the terminal's, then tsx's relay): one cleanup, at most 30 s. The
  // run goes on meanwhile; a second pass drops a database whose create was in flight at the first.
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    const code = signal === 'SIGINT' ? 130 : 143;
    process.stderr.write(`\n${signal}: dropping this run's bench databases on ${label} ...\n`);
    setTimeout(() => process.exit(code), 30_000);
    (async () => {
      await dropAll();
      await new Promise((done) => setTimeout(done, 1000));
      await dropAll();
    })().finally(() => process.exit(code));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  return {
    url: externalUrl,
    description: `external CouchDB-API server at ${label}${about ? ` (${about})` : ''}`,
    cpuSeconds: () => undefined,
    databaseName,
    dropDatabase: drop,
    stop: async () => {
      closing = true;
      await dropAll();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
