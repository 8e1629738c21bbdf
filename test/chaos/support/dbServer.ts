import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';

export const DIST_LRT = resolve(__dirname, '../../../dist/lrt.js');

/**
 * `lrt db serve` as a child process, so the chaos driver can kill it and start it again on the
 * same port and data dir; the admin password is fixed (LRT_DB_ADMIN_PASSWORD) so clients that
 * hold the URL keep working across restarts.
 */
export interface DbServerProcess {
  /** Base URL with the admin credentials, as `lrt db serve` prints it. */
  urlWithCredentials: string;
  child: ResultPromise;
  /** SIGKILL, like a crashed node; resolves when the process is gone. */
  kill(): Promise<void>;
}

export interface DbServerOptions {
  port: number;
  dataDir?: string;
  password: string;
  startTimeoutMs?: number;
}

/** A port that was free a moment ago (the server needs a fixed one to restart on). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (!address || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

export async function startDbServer(options: DbServerOptions): Promise<DbServerProcess> {
  const args = [DIST_LRT, 'db', 'serve', '--port', String(options.port)];
  if (options.dataDir) args.push('--data', options.dataDir);
  const child = execa('node', args, {
    env: { LRT_DB_ADMIN_PASSWORD: options.password },
    reject: false,
    buffer: false,
    stdin: 'ignore',
  });
  const url = await new Promise<string>((done, fail) => {
    let text = '';
    const timer = setTimeout(
      () => fail(new Error(`lrt db serve did not start within ${options.startTimeoutMs ?? 20_000} ms`)),
      options.startTimeoutMs ?? 20_000,
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split('\n')[0];
      if (text.includes('\n') && line) {
        clearTimeout(timer);
        done(line.trim());
      }
    });
    child.then((result) => {
      clearTimeout(timer);
      fail(new Error(`lrt db serve exited early (code ${result.exitCode}): ${String(result.stderr ?? '')}`));
    });
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    urlWithCredentials: url,
    child,
    kill: async () => {
      child.kill('SIGKILL');
      await child;
    },
  };
}
